"""FeatureStore: a tenant's Feast project in the cluster, generated from the blueprint (multi-tenant's
recsys declares one; ranker reads its service ranker_v1)."""

from __future__ import annotations

from collections import Counter

import yaml

from blueprints import load
from infra.components.feature_store import REPO_DIR
from services.cli import build_parser
from services.features.database import SCRIPT, psql_args
from services.features.repo import cluster_store, feature_repo
from services.features.spec import feature_specs, specs_from_json
from tests.infra.conftest import find, rendered

NS = "recsys"


def _manifests() -> list[dict]:
    return rendered("multi-tenant").manifests


def test_only_tenants_that_declare_features_get_a_feature_store():
    names = ("foundation", "multi-tenant", "enterprise")
    counts = {name: Counter(t for t, _ in rendered(name).others) for name in names}
    # recsys in multi-tenant; payments in enterprise (its customer features, personal data: ADR 0024)
    assert {name: c["mlops-platform:platform:FeatureStore"] for name, c in counts.items()} == {
        "foundation": 0,
        "multi-tenant": 1,
        "enterprise": 1,
    }


def test_the_feast_repository_in_the_cluster_is_the_one_generated_from_the_blueprint():
    config = find(_manifests(), "ConfigMap", "feature-repo", NS)
    tenant = load("multi-tenant").tenant(NS)
    assert config["data"] == feature_repo(tenant, cluster_store(NS, "mlflow-db.mlops-system.svc"))
    store = yaml.safe_load(config["data"]["feature_store.yaml"])
    assert store["registry"]["registry_type"] == "sql" and store["online_store"]["type"] == "postgres"
    assert store["online_store"]["database"] == "feast_recsys"
    # the password is Feast's environment placeholder, never a value: the ConfigMap holds no secret
    assert store["online_store"]["password"] == "${FEAST_DB_PASSWORD}"
    assert ":${FEAST_DB_PASSWORD}@" in store["registry"]["path"]


def test_the_tenant_database_is_created_by_the_script_the_tests_run_as_the_database_superuser():
    manifests = _manifests()
    job = next(m for m in manifests if m["kind"] == "Job" and m["metadata"]["name"].startswith("feast-db-recsys-"))
    assert job["metadata"]["namespace"] == "mlops-system"
    assert job["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == psql_args(NS, f"/sql/{SCRIPT.name}")
    script = find(manifests, "ConfigMap", "feast-db-recsys", "mlops-system")["data"][SCRIPT.name]
    assert script == SCRIPT.read_text()  # byte for byte what tests/services/test_feature_store.py runs
    env = {e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert env["PGPASSWORD"] == "mlflow-db-credentials" and env["PGHOST"] == "mlflow-db"
    assert env["FEAST_DB_PASSWORD"] == "feast-db-recsys"


def test_the_role_password_is_generated_once_into_the_tenant_secret_and_its_copy():
    manifests = _manifests()
    tenant = find(manifests, "Secret", "feast-credentials", NS)["stringData"]
    copy = find(manifests, "Secret", "feast-db-recsys", "mlops-system")["stringData"]
    assert tenant["FEAST_DB_USER"] == "feast_recsys"
    assert tenant["FEAST_DB_PASSWORD"] == copy["FEAST_DB_PASSWORD"] and len(copy["FEAST_DB_PASSWORD"]) == 32


def test_the_feature_server_applies_then_serves_the_repository_from_the_platform_image():
    deployment = find(_manifests(), "Deployment", "feature-server", NS)
    pod = deployment["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert build_parser().parse_args(init["args"]).action == "apply"
    serve = build_parser().parse_args(pod["containers"][0]["args"])
    assert (serve.action, str(serve.repo), serve.port) == ("serve", REPO_DIR, 6566)
    assert pod["containers"][0]["image"].startswith("mlops-platform/platform:")
    assert "platform.mlops/config-hash" in deployment["spec"]["template"]["metadata"]["annotations"]
    service = find(_manifests(), "Service", "feature-server", NS)
    assert service["spec"]["ports"][0]["port"] == 6566


def test_materialization_runs_on_the_blueprint_schedule_with_the_standalone_command():
    cronjob = find(_manifests(), "CronJob", "feature-materialize", NS)
    assert cronjob["spec"]["schedule"] == "*/15 * * * *" and cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    parsed = build_parser().parse_args(pod["containers"][0]["args"])
    assert (parsed.action, parsed.tenant, parsed.schedule) == ("materialize", NS, "*/15 * * * *")
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "feature-data"}} in pod["volumes"]
    labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "feature-materialization"


def test_the_model_server_of_a_feature_model_gets_its_spec_and_the_online_store():
    manifests = _manifests()
    spec = specs_from_json(find(manifests, "ConfigMap", "ranker-features", NS)["data"]["serving.json"])
    assert spec == {"ranker": feature_specs(load("multi-tenant").tenant(NS))["ranker"]}
    container = find(manifests, "Deployment", "ranker", NS)["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert env["MLPLAT_ONLINE_STORE"] == (
        "postgresql://feast_recsys:$(FEAST_DB_PASSWORD)@mlflow-db.mlops-system.svc:5432/feast_recsys"
    )
    assert env["FEAST_DB_PASSWORD"] == "feast-credentials"
    names = [e["name"] for e in container["env"]]
    assert names.index("FEAST_DB_PASSWORD") < names.index("MLPLAT_ONLINE_STORE")  # $(...) needs it defined first
    embedder = find(manifests, "Deployment", "embedder", NS)["spec"]["template"]["spec"]["containers"][0]
    assert "--features" not in embedder["args"]  # a model without a feature service is untouched
