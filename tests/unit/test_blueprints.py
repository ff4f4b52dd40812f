"""The blueprint schema: shipped blueprints load, and every malformed one gets its specific message."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import yaml

from blueprints import SHIPPED, BlueprintError, load, load_text
from blueprints.loader import BLUEPRINT_DIR
from blueprints.quantity import QuantityError, parse_quantity
from services.cli import main

BASE = yaml.safe_load((BLUEPRINT_DIR / "multi-tenant.yaml").read_text())


def _errors(mutate) -> list[str]:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(BlueprintError) as caught:
        load_text(yaml.safe_dump(data), source="blueprints/x.yaml")
    return str(caught.value).splitlines()


def _set(path: str, value):
    """A mutation that sets `tenants.1.quotas.cpu` (dots, ints for list indexes) to value."""

    def mutate(data):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = data
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()

MALFORMED = {
    "quantity": (
        _set("tenants.1.quotas.cpu", "lots"),
        'blueprints/x.yaml: tenants[1].quotas.cpu: \'lots\' is not a Kubernetes quantity (e.g. "4" or "500m")',
    ),
    "dns-name": (
        _set("tenants.0.name", "Fraud_Team"),
        "blueprints/x.yaml: tenants[0].name: 'Fraud_Team' is not a DNS-1123 label",
    ),
    "unknown-key": (
        _set("tenants.0.quota", {}),
        "blueprints/x.yaml: tenants[0].quota: unknown key 'quota' (a typo?); allowed keys here: name, "
        "displayName, owners, registry, quotas, limits, models",
    ),
    "replicas-order": (
        _set("tenants.0.models.0.replicas.min", 5),
        "blueprints/x.yaml: tenants[0].models[0].replicas: min (5) is greater than max (4): set max >= min",
    ),
    "registry-mode": (
        _set("tenants.0.registry", "private"),
        "blueprints/x.yaml: tenants[0].registry: 'private' is not allowed; input should be 'shared' or 'dedicated'",
    ),
    "duplicate-tenant": (
        _set("tenants.1.name", "fraud"),
        "blueprints/x.yaml: tenants[1].name: tenant 'fraud' is declared twice",
    ),
    "duplicate-model": (
        _set("tenants.1.models.1.name", "ranker"),
        "blueprints/x.yaml: tenants[1].models[1].name: model 'ranker' is declared twice",
    ),
    "request-over-limit": (
        _set("tenants.0.models.0.resources.requests.memory", "2Gi"),
        "blueprints/x.yaml: tenants[0].models[0].resources: requests.memory '2Gi' exceeds "
        "limits.memory '768Mi': raise the limit or lower the request",
    ),
    "memory-without-unit": (
        _set("tenants.0.quotas.memory", "512"),
        "blueprints/x.yaml: tenants[0].quotas.memory: '512' is under 1 MiB: memory needs a unit",
    ),
    "canary-weight": (
        _set("tenants.0.models.0.canaryWeight", 150),
        "blueprints/x.yaml: tenants[0].models[0].canaryWeight: 150: input should be less than or equal to 100",
    ),
    "unpinned-image": (
        _set("platform.image.tag", "latest"),
        "blueprints/x.yaml: platform.image.tag: 'latest' is not a pinned tag",
    ),
    "missing-key": (
        _set("tenants.0.quotas.pods", _DELETE),
        "blueprints/x.yaml: tenants[0].quotas.pods: required key is missing: add it",
    ),
    "quota-too-small": (
        _set("tenants.2.quotas.cpu", "500m"),
        "blueprints/x.yaml: tenants[2].quotas.cpu: '500m' is less than the 1.25 CPU the tenant's "
        "workloads may use at max replicas (limits): raise the quota or lower replicas.max or "
        "limits.cpu",
    ),
    "reserved-namespace": (
        _set("tenants.0.name", "kube-system"),
        "blueprints/x.yaml: tenants[0].name: 'kube-system' is a reserved namespace",
    ),
    "cron": (
        _set("platform.registry.backup.schedule", "daily"),
        "blueprints/x.yaml: platform.registry.backup.schedule: 'daily' is not a 5-field cron schedule",
    ),
    "storage-class": (
        _set("platform.registry.backup.storageClass", "Fast SSD"),
        "blueprints/x.yaml: platform.registry.backup.storageClass: 'Fast SSD' is not a StorageClass name: "
        "use lowercase letters, digits, '-' and '.'",
    ),
    "ha-single-registry": (
        _set("platform.ha", True),
        "blueprints/x.yaml: platform.registry.replicas: 1 with platform.ha: true leaves the registry without a spare",
    ),
    "api-version": (
        _set("apiVersion", "v2"),
        "blueprints/x.yaml: apiVersion: 'v2' is not allowed; input should be 'mlops-platform/v1'",
    ),
    # continuous training (tenants[0].models[0] is fraud-scorer, trained on the drift alert)
    "training-entry-point": (
        _set("tenants.0.models.0.training.entryPoint", "services/training/iris.py"),
        "blueprints/x.yaml: tenants[0].models[0].training.entryPoint: 'services/training/iris.py' is not a "
        "Python entry point: write `package.module:function`",
    ),
    "training-trigger": (
        _set("tenants.0.models.0.training.triggers", ["drift", "retrain"]),
        "blueprints/x.yaml: tenants[0].models[0].training.triggers[1]: 'retrain' is not allowed; input should "
        "be 'drift' or 'schedule'",
    ),
    "training-schedule-missing": (
        _set("tenants.0.models.0.training.triggers", ["drift", "schedule"]),
        'blueprints/x.yaml: tenants[0].models[0].training: the "schedule" trigger needs a schedule: add schedule',
    ),
    "training-two-sources": (
        _set("tenants.0.models.0.training.project", "./projects/fraud"),
        "blueprints/x.yaml: tenants[0].models[0].training: give exactly one of entryPoint (a Python "
        "module:function) or project (an MLflow Project)",
    ),
    "training-without-canary": (
        _set("tenants.2.models.0.training", {"entryPoint": "services.training.iris:train"}),
        "blueprints/x.yaml: tenants[2].models[0].training: a retrained version becomes the challenger at "
        "canaryWeight, which is 0: set canaryWeight",
    ),
    # batch scoring (tenants[2].batch[0] is demand-nightly)
    "batch-cron": (
        _set("tenants.2.batch.0.schedule", "nightly"),
        "blueprints/x.yaml: tenants[2].batch[0].schedule: 'nightly' is not a 5-field cron schedule",
    ),
    "batch-cron-field": (
        _set("tenants.2.batch.0.schedule", "0 25 * * *"),
        "blueprints/x.yaml: tenants[2].batch[0].schedule: hour field: 25 is out of range; use 0-23",
    ),
    "batch-path": (
        _set("tenants.2.batch.0.input", "../other-team/in.csv"),
        "blueprints/x.yaml: tenants[2].batch[0].input: '../other-team/in.csv' must be a relative path inside "
        "the batch job's data volume",
    ),
    "batch-format": (
        _set("tenants.2.batch.0.output", "scored/demand.json"),
        "blueprints/x.yaml: tenants[2].batch[0].output: 'scored/demand.json': use a .csv or .parquet file",
    ),
    "batch-reject-ratio": (
        _set("tenants.2.batch.0.maxRejectRatio", 1.5),
        "blueprints/x.yaml: tenants[2].batch[0].maxRejectRatio: 1.5: input should be less than or equal to 1",
    ),
    "training-with-a-dedicated-registry": (
        lambda data: data["tenants"][0].update(
            registry="dedicated", quotas={**data["tenants"][0]["quotas"], "cpu": "12", "memory": "16Gi"}
        ),
        "blueprints/x.yaml: tenants[0].models[0].training: the training trigger works with the shared registry, "
        "and tenant 'fraud' has a dedicated one",
    ),
    "batch-storage-over-quota": (
        _set("tenants.2.batch.0.storage", "6Gi"),
        "blueprints/x.yaml: tenants[2].quotas.storage: '5Gi' is less than the 6Gi the tenant's batch jobs and "
        "feature data claim",
    ),
    # the shared registry: registered model names are global (ADR 0017)
    "model-name-taken-in-the-shared-registry": (
        _set("tenants.2.models.0.name", "ranker"),
        "blueprints/x.yaml: tenants[2].models[0].name: model 'ranker' is already declared by tenant 'recsys', and "
        "registered model names are global in the shared registry: rename it (e.g. forecasting-ranker), or give "
        "tenant 'forecasting' registry: dedicated",
    ),
    # the feature store (tenants[1] is recsys: features.featureViews[0] is flower_measurements; its
    # models[0], ranker, reads the service ranker_v1)
    "feature-type": (
        _set("tenants.1.features.featureViews.0.features.0.type", "decimal"),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].features[0].type: 'decimal' is not allowed; input "
        "should be 'float64', 'float32', 'int64', 'int32' or 'bool'",
    ),
    "entity-type": (
        _set("tenants.1.features.entities.0.type", "uuid"),
        "blueprints/x.yaml: tenants[1].features.entities[0].type: 'uuid' is not allowed; input should be 'int64' "
        "or 'string'",
    ),
    "feature-declared-twice": (
        _set("tenants.1.features.featureViews.0.features.1.name", "sepal_length"),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].features[1].name: feature 'sepal_length' is "
        "declared twice in view 'flower_measurements'",
    ),
    "feature-view-declared-twice": (
        lambda data: data["tenants"][1]["features"]["featureViews"].append(
            copy.deepcopy(data["tenants"][1]["features"]["featureViews"][0])
        ),
        "blueprints/x.yaml: tenants[1].features.featureViews[1].name: 'flower_measurements' is declared twice",
    ),
    "feature-view-unknown-entity": (
        _set("tenants.1.features.featureViews.0.entities", ["customer"]),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].entities[0]: no entity 'customer'; declared "
        "entities: ['flower']",
    ),
    "feature-service-unknown-view": (
        _set("tenants.1.features.featureServices.0.featureViews", ["flower_shapes"]),
        "blueprints/x.yaml: tenants[1].features.featureServices[0].featureViews[0]: no feature view "
        "'flower_shapes'; declared views: ['flower_measurements']",
    ),
    "feature-named-like-the-join-key": (
        _set("tenants.1.features.featureViews.0.features.0.name", "flower_id"),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].features: ['flower_id'] is a join key or the "
        "timestamp field, not a feature",
    ),
    "feature-ttl": (
        _set("tenants.1.features.featureViews.0.ttl", "2 days"),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].ttl: '2 days' is not a positive duration",
    ),
    "feature-source": (
        _set("tenants.1.features.featureViews.0.source.path", "flowers/measurements.csv"),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].source.path: 'flowers/measurements.csv': feature "
        "sources are Parquet files",
    ),
    "model-names-a-missing-feature-service": (
        _set("tenants.1.models.0.features.service", "ranker_v2"),
        "blueprints/x.yaml: tenants[1].models[0].features.service: no feature service 'ranker_v2' in tenant "
        "'recsys'; declared services: ['ranker_v1']",
    ),
    "model-features-without-a-feature-store": (
        _set("tenants.2.models.0.features", {"service": "demand_v1"}),
        "blueprints/x.yaml: tenants[2].models[0].features.service: tenant 'forecasting' declares no feature store",
    ),
    "missing-entity-default-without-defaults": (
        _set("tenants.1.models.0.features.missingEntity", "default"),
        "blueprints/x.yaml: tenants[1].models[0].features: missingEntity is default but defaults is empty",
    ),
    "defaults-must-cover-the-service": (
        lambda data: data["tenants"][1]["models"][0]["features"].update(
            missingEntity="default", defaults={"sepal_length": 5.8}
        ),
        "blueprints/x.yaml: tenants[1].models[0].features.defaults: give exactly one value per feature of service "
        "'ranker_v1' (sepal_length, sepal_width, petal_length, petal_width); missing ['petal_length', "
        "'petal_width', 'sepal_width']",
    ),
    "feature-model-with-training": (
        _set("tenants.1.models.0.training", {"entryPoint": "services.training.iris:train"}),
        "blueprints/x.yaml: tenants[1].models[0].features: model 'ranker' has training too",
    ),
    "feature-table-name-too-long": (
        _set("tenants.1.name", "recommendations-and-personalisation-team-eux"),
        "blueprints/x.yaml: tenants[1].features.featureViews[0].name: the online table "
        "'recommendations_and_personalisation_team_eux_flower_measurements' is 64 characters; PostgreSQL allows 63",
    ),
    "feature-store-over-quota": (
        _set("tenants.1.quotas.cpu", "4"),
        "blueprints/x.yaml: tenants[1].quotas.cpu: '4' is less than the 5.5 CPU the tenant's workloads may use",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_blueprint_gets_its_specific_message(case):
    mutate, expected = MALFORMED[case]
    errors = _errors(mutate)
    assert any(line.startswith(expected) for line in errors), errors


def test_a_feature_service_lists_its_features_in_view_order_as_the_model_inputs():
    recsys = load("multi-tenant").tenant("recsys")
    columns = [(view.name, feature.name) for view, feature in recsys.features.service_features("ranker_v1")]
    assert columns == [
        ("flower_measurements", "sepal_length"),
        ("flower_measurements", "sepal_width"),
        ("flower_measurements", "petal_length"),
        ("flower_measurements", "petal_width"),
    ]
    assert recsys.features.view("flower_measurements").ttl_seconds == 2 * 86400


def test_the_views_of_a_feature_service_share_their_entities():
    def two_entities(data):
        store = data["tenants"][1]["features"]
        store["entities"].append({"name": "garden", "type": "string"})
        shapes = copy.deepcopy(store["featureViews"][0])
        shapes.update(name="garden_stats", entities=["garden"], features=[{"name": "rainfall"}])
        store["featureViews"].append(shapes)
        store["featureServices"][0]["featureViews"] = ["flower_measurements", "garden_stats"]

    errors = _errors(two_entities)
    assert any(
        line.startswith(
            "blueprints/x.yaml: tenants[1].features.featureServices[0].featureViews: the views use different entities"
        )
        for line in errors
    ), errors


def test_all_problems_of_a_file_are_reported_at_once():
    def two_problems(data):
        data["tenants"][0]["registry"] = "private"
        data["tenants"][1]["quotas"]["cpu"] = "lots"

    errors = _errors(two_problems)
    assert len(errors) == 2


def test_invalid_yaml_names_the_line():
    with pytest.raises(BlueprintError, match=r"x.yaml: line 1, column 11: not valid YAML"):
        load_text("tenants: [", source="x.yaml")


def test_a_document_that_is_not_a_mapping_is_rejected():
    with pytest.raises(BlueprintError, match="must be a mapping"):
        load_text("- a\n- b\n", source="x.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_blueprints_load(name):
    blueprint = load(name)
    assert blueprint.metadata.name == name
    assert blueprint.tenants


def test_multi_tenant_blueprint_has_at_least_three_teams_with_canaries():
    blueprint = load("multi-tenant")
    assert len(blueprint.tenants) >= 3
    assert any(m.canary_weight for t in blueprint.tenants for m in t.models)


def test_enterprise_blueprint_has_ha_rpo_and_a_dedicated_registry():
    blueprint = load("enterprise")
    assert blueprint.platform.ha and blueprint.platform.registry.replicas >= 2
    assert blueprint.platform.registry.backup.effective_schedule == "*/15 * * * *"
    assert any(t.registry == "dedicated" for t in blueprint.tenants)


def test_a_blueprint_can_be_given_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((BLUEPRINT_DIR / "foundation.yaml").read_text())
    assert load(str(path)).metadata.name == "foundation"


def test_an_unknown_blueprint_name_lists_the_shipped_ones():
    shipped = "foundation, multi-tenant, enterprise, llm, federated"
    with pytest.raises(BlueprintError, match=f"give a shipped name \\({shipped}\\)"):
        load("no-such-blueprint")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("512Mi", Decimal(512 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        (4, Decimal(4)),
    ],
)
def test_quantities_parse_exactly(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["lots", "1.2.3", "-1", "5 Gi", "", "Gi", True])
def test_non_quantities_are_rejected(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_cli_validate_accepts_shipped_blueprints(capsys):
    assert main(["blueprint", "validate", *SHIPPED]) == 0
    assert "multi-tenant: ok (3 tenants, 4 models)" in capsys.readouterr().out


def test_cli_validate_exits_1_and_prints_the_field_path(tmp_path, capsys):
    bad = copy.deepcopy(BASE)
    bad["tenants"][1]["quotas"]["cpu"] = "lots"
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert main(["blueprint", "validate", str(path)]) == 1
    assert "tenants[1].quotas.cpu: 'lots' is not a Kubernetes quantity" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("rpo", "dump_schedule", "wal"),
    [
        (None, "0 2 * * *", False),  # no RPO: the nightly schedule
        (15, "*/15 * * * *", False),  # dumps alone meet 15 minutes
        (30, "*/30 * * * *", False),
        (120, "0 */2 * * *", False),
        (5, "*/15 * * * *", True),  # tighter: WAL archiving carries the RPO, dumps stay at 15 minutes
    ],
)
def test_the_backup_schedule_and_wal_archiving_follow_the_rpo(rpo, dump_schedule, wal):
    from blueprints.schema import BackupSettings

    backup = BackupSettings(rpo_minutes=rpo)
    assert backup.effective_schedule == dump_schedule
    assert backup.wal_archiving is wal
