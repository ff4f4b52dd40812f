"""Tenant isolation in the shared registry, against a real MLflow with its authentication app.

The registry runs as the platform runs it (`mlplat registry server`, default permission
NO_PERMISSIONS) and is bootstrapped by `mlplat registry bootstrap` from the multi-tenant blueprint's
access plan. Then every kind of call tenant `fraud` could make against tenant `recsys`'s model is made
over the REST API, and each must be refused with 403, while the same call on fraud's own model
succeeds (so a refusal means isolation, not a broken call). The promotion gate, the model servers'
read-only users and the bootstrap's idempotence are checked beside.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from blueprints import load
from services.registry.access import ADMIN, GATE, MONITORING, access_plan, apply, bootstrap_args, serving_user
from services.registry.credentials import Credentials, acting_as, credentials_file
from tests.services.mlflow_fixtures import IRIS_COLUMNS, AuthRegistry, iris_data, start_mlflow_with_auth

ROOT = Path(__file__).resolve().parents[2]
API = "/api/2.0/mlflow"
TAGS = {"owner": "", "training_data_digest": "sklearn:iris", "code_version": "test"}


def _bootstrap(registry: AuthRegistry, plan_file: Path) -> subprocess.CompletedProcess:
    args = bootstrap_args(
        str(plan_file),
        registry.uri,
        admin_credentials=str(credentials_file(registry.credentials_dir, ADMIN)),
        credentials_dir=str(registry.credentials_dir),
    )
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def _register(registry: AuthRegistry, tenant: str, model: str) -> dict:
    """Train and register a version as the tenant, in the model's experiment (`<tenant>-<model>`)."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from services.training.runner import experiment_name

    x, y = iris_data()
    frame = pd.DataFrame(x, columns=IRIS_COLUMNS)
    with acting_as(registry.user(tenant)):
        mlflow.set_tracking_uri(registry.uri)
        mlflow.set_experiment(experiment_name(tenant, model))
        with mlflow.start_run() as run:
            estimator = LogisticRegression(max_iter=500).fit(frame, y)
            mlflow.log_metric("accuracy", float(estimator.score(frame, y)))
            info = mlflow.sklearn.log_model(
                estimator,
                name="model",
                signature=infer_signature(frame, estimator.predict(frame)),
                input_example=frame.head(3),
                registered_model_name=model,
            )
        client = mlflow.tracking.MlflowClient(registry.uri)
        version = str(info.registered_model_version)
        for key, value in {**TAGS, "owner": tenant}.items():
            client.set_model_version_tag(model, version, key, value)
        client.update_model_version(model, version, description=f"{model} of {tenant}: iris, for the isolation test.")
        client.set_registered_model_alias(model, "champion", version)
        location = client.get_model_version_download_uri(model, version)
        registered = client.get_model_version(model, version)
    return {
        "source": registered.source,  # models:/<logged model id>
        "model_id": registered.source.removeprefix("models:/"),
        "model": model,
        "version": version,
        "run_id": run.info.run_id,
        "experiment_id": run.info.experiment_id,
        "artifact": location.removeprefix("mlflow-artifacts:/").strip("/") + "/MLmodel",
    }


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = start_mlflow_with_auth(tmp_path_factory.mktemp("auth-registry"))
    plan = access_plan(load("multi-tenant"))
    plan_file = registry.credentials_dir.parent / "access.json"
    plan_file.write_text(plan.to_json())
    for user in plan.users:
        registry.user(user)  # generated, owner-only, as standalone does
    first = _bootstrap(registry, plan_file)  # the command the cluster's Job and standalone run
    assert first.returncode == 0, first.stdout + first.stderr
    # idempotent: run again, nothing new is created, passwords and grants are re-applied
    passwords = {user: registry.user(user).password for user in plan.users}
    registry.counts = (first.stdout, apply(plan, registry.uri, registry.admin, passwords))
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def models(registry):
    return {"fraud": _register(registry, "fraud", "fraud-scorer"), "recsys": _register(registry, "recsys", "ranker")}


def _calls(target: dict, own: dict) -> dict[str, list[tuple[str, str, str, dict]]]:
    """Every call a tenant could make on `target` (a model registered by another tenant), by kind."""
    name, version, run = target["model"], target["version"], target["run_id"]
    return {
        "read": [
            ("GET", f"{API}/registered-models/get", "get the registered model", {"name": name}),
            ("GET", f"{API}/model-versions/get", "get a version", {"name": name, "version": version}),
            ("GET", f"{API}/registered-models/alias", "resolve an alias", {"name": name, "alias": "champion"}),
            (
                "GET",
                f"{API}/model-versions/get-download-uri",
                "get a version's artifact location",
                {"name": name, "version": version},
            ),
            ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{target['artifact']}", "download the model's MLmodel", {}),
            ("GET", f"{API}/runs/get", "read the training run", {"run_id": run}),
            ("GET", f"{API}/experiments/get", "read the experiment", {"experiment_id": target["experiment_id"]}),
        ],
        "update": [
            ("PATCH", f"{API}/registered-models/update", "change the description", {"name": name, "description": "x"}),
            ("POST", f"{API}/registered-models/set-tag", "tag the model", {"name": name, "key": "k", "value": "v"}),
            (
                "PATCH",
                f"{API}/model-versions/update",
                "change a version's description",
                {"name": name, "version": version, "description": "x"},
            ),
            (
                "POST",
                f"{API}/model-versions/set-tag",
                "tag a version (e.g. fake an approval)",
                {"name": name, "version": version, "key": "platform.mlops/approval.mallory", "value": "approved"},
            ),
            (
                "POST",
                f"{API}/model-versions/create",
                "register a version of its own as theirs",
                {"name": name, "source": own["source"], "model_id": own["model_id"]},
            ),
            (
                "POST",
                f"{API}/runs/log-metric",
                "log a metric into the training run",
                {"run_id": run, "key": "accuracy", "value": 1.0, "timestamp": 0},
            ),
        ],
        "delete": [
            ("DELETE", f"{API}/model-versions/delete", "delete a version", {"name": name, "version": version}),
            ("DELETE", f"{API}/registered-models/delete-tag", "delete a model tag", {"name": name, "key": "owner"}),
            ("DELETE", f"{API}/registered-models/delete", "delete the model", {"name": name}),
            ("POST", f"{API}/runs/delete", "delete the training run", {"run_id": run}),
        ],
        "alias move": [
            (
                "POST",
                f"{API}/registered-models/alias",
                "point champion elsewhere",
                {"name": name, "alias": "champion", "version": version},
            ),
            (
                "POST",
                f"{API}/registered-models/alias",
                "add an alias",
                {"name": name, "alias": "sneaky", "version": version},
            ),
            ("DELETE", f"{API}/registered-models/alias", "remove champion", {"name": name, "alias": "champion"}),
        ],
    }


def _call(registry: AuthRegistry, user: Credentials, method: str, path: str, params: dict) -> httpx.Response:
    """One REST call as `user`: GET parameters in the query, every other method's in a JSON body (as
    MLflow's own client sends them)."""
    body = {"params": params} if method == "GET" else {"json": params}
    return httpx.request(method, registry.uri + path, auth=(user.username, user.password), timeout=30, **body)


def _snapshot(registry: AuthRegistry, model: str) -> dict:
    from mlflow.tracking import MlflowClient

    with acting_as(registry.admin):
        client = MlflowClient(registry.uri)
        versions = client.search_model_versions(f"name='{model}'")
        registered = client.get_registered_model(model)
        return {
            "description": registered.description,
            "tags": dict(registered.tags),
            "aliases": dict(registered.aliases),
            "versions": {v.version: (v.description, dict(v.tags)) for v in versions},
        }


DENIED: dict[str, int] = {}


def test_the_bootstrap_creates_users_models_and_experiments_once(registry):
    first, second = registry.counts
    assert "8 users created, 0 updated; 4 models and 4 experiments created" in first, first
    assert second == {
        "users_created": 0,
        "users_updated": 8,
        "models_created": 0,
        "experiments_created": 0,
        "grants": len(access_plan(load("multi-tenant")).grants),
    }


def test_tenant_a_cannot_read_update_delete_or_move_an_alias_of_tenant_b_model(registry, models):
    fraud = registry.user("fraud")
    before = _snapshot(registry, "ranker")
    calls = _calls(models["recsys"], own=models["fraud"])
    answers = {
        kind: [(what, _call(registry, fraud, method, path, params)) for method, path, what, params in entries]
        for kind, entries in calls.items()
    }
    refused = {kind: [(what, r.status_code) for what, r in rs] for kind, rs in answers.items()}
    assert all(status == 403 for rs in refused.values() for _, status in rs), refused
    assert {r.text for rs in answers.values() for _, r in rs} == {"Permission denied"}
    assert _snapshot(registry, "ranker") == before  # and nothing changed
    DENIED.update({kind: len(entries) for kind, entries in calls.items()})
    print(f"denied cross-tenant calls by kind: {DENIED} ({sum(DENIED.values())} in all)")


def test_the_same_calls_on_the_tenant_own_model_are_allowed(registry, models):
    """The control: the calls above are well-formed; only ownership makes them fail."""
    fraud = registry.user("fraud")
    own = _calls(models["fraud"], own=models["fraud"])
    # (delete and remove-champion would destroy the fixture; EDIT on its own model does not include delete)
    for kind in ("read", "update", "alias move"):
        for method, path, what, params in own[kind]:
            if what == "remove champion":
                continue
            response = _call(registry, fraud, method, path, params)
            assert response.status_code == 200, (kind, what, response.text)
    restored = _call(
        registry,
        fraud,
        "POST",
        f"{API}/registered-models/alias",
        {"name": "fraud-scorer", "alias": "champion", "version": "1"},
    )
    assert restored.status_code == 200


def test_a_tenant_edits_but_cannot_delete_its_own_model(registry, models):
    response = _call(
        registry, registry.user("fraud"), "DELETE", f"{API}/registered-models/delete", {"name": "fraud-scorer"}
    )
    assert response.status_code == 403


def test_a_tenant_search_lists_only_its_own_models(registry, models):
    from mlflow.tracking import MlflowClient

    with acting_as(registry.user("fraud")):
        names = {m.name for m in MlflowClient(registry.uri).search_registered_models()}
    assert names == {"fraud-scorer"}


def test_the_serving_user_reads_its_tenant_models_and_nothing_else(registry, models):
    serving = registry.user(serving_user("recsys"))
    own, other = models["recsys"], models["fraud"]
    for method, path, _, params in _calls(own, own=own)["read"]:
        assert _call(registry, serving, method, path, params).status_code == 200, path
    for method, path, _, params in _calls(other, own=own)["read"]:
        assert _call(registry, serving, method, path, params).status_code == 403, path
    move = _call(
        registry, serving, "POST", f"{API}/registered-models/alias", {"name": "ranker", "alias": "x", "version": "1"}
    )
    assert move.status_code == 403  # read-only, even on its own model


def test_the_serving_user_loads_the_model_the_way_batch_jobs_do(registry, models):
    from services.batch.model import RegistryError, fetch_model
    from services.model_server.uris import ModelRef

    with acting_as(registry.user(serving_user("recsys"))):
        loaded = fetch_model(ModelRef("ranker", alias="champion"), registry.uri)
        assert loaded.version == models["recsys"]["version"]
        with pytest.raises(RegistryError) as refused:
            fetch_model(ModelRef("fraud-scorer", alias="champion"), registry.uri)
    assert refused.value.status == 403


def test_the_monitoring_user_reads_the_metrics_and_nothing_else(registry, models):
    monitoring = registry.user(MONITORING)
    scraped = httpx.get(f"{registry.uri}/metrics", auth=(monitoring.username, monitoring.password), timeout=30)
    assert scraped.status_code == 200 and "mlflow_http_request_total" in scraped.text
    for method, path, _, params in _calls(models["recsys"], own=models["fraud"])["read"]:
        assert _call(registry, monitoring, method, path, params).status_code == 403, path
    assert httpx.get(f"{registry.uri}/metrics", timeout=30).status_code == 401  # never anonymously


def test_anonymous_calls_are_refused(registry, models):
    response = httpx.get(f"{registry.uri}{API}/registered-models/get", params={"name": "ranker"}, timeout=30)
    assert response.status_code == 401


def test_the_gate_evaluates_and_moves_any_tenant_alias(registry, models, tmp_path):
    from mlflow.tracking import MlflowClient

    from services.promotion_gate import registry as gate_registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import promote
    from services.promotion_gate.rules import load_rules

    with acting_as(registry.user(GATE)):
        client = gate_registry.client(registry.uri)
        version = models["recsys"]["version"]
        gate_registry.approve(client, "ranker", version, "platform-reviewer")
        decision = promote(client, load_rules(), AuditLog(tmp_path / "audit.jsonl"), "ranker", version, "champion")
        assert decision.passed and decision.moved, decision.table()
        assert MlflowClient(registry.uri).get_model_version_by_alias("ranker", "champion").version == version
        client.delete_registered_model_alias("ranker", "champion")  # the alias guard's revert needs delete
        client.set_registered_model_alias("ranker", "champion", version)
