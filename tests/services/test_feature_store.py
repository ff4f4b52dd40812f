"""The feature store as the cluster runs it, on this machine: real PostgreSQL, real Feast, real MLflow,
the real model server.

A throwaway PostgreSQL gets the tenant's database from the cluster Job's own script; the Feast
repository is generated from a blueprint (SQL registry and online store in that database, the
cluster's layout); `mlplat features apply` and Feast's materialization fill it from Parquet; a model is
trained on point-in-time-correct historical features and served by `mlplat serve --features`, which
reads the online tables directly. Then: no training/serving skew, and every fault the blueprint
decides (unknown entity, stale value, online store down) answered as declared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from blueprints import load_text
from blueprints.loader import BLUEPRINT_DIR
from services.features import dataset
from services.features.database import create_database
from services.features.names import FEATURE_SERVICE_TAG, database, online_table
from services.features.repo import cluster_store, feature_repo, write_repo
from services.features.spec import feature_specs, specs_to_json
from tests.services.mlflow_fixtures import start_model_server

ROOT = Path(__file__).resolve().parents[2]
TENANT, SERVICE, VIEW = "recsys", "ranker_v1", "flower_measurements"
STALE_FLOWER = 150  # measured only long ago: its online value is older than the view's TTL
UNKNOWN_FLOWER = 999
DEFAULTS = {"sepal_length": 5.8, "sepal_width": 3.0, "petal_length": 4.35, "petal_width": 1.3}


def _blueprint():
    """multi-tenant, with three models of recsys on one feature service, one per fault policy."""
    spec = yaml.safe_load((BLUEPRINT_DIR / "multi-tenant.yaml").read_text())
    recsys = next(t for t in spec["tenants"] if t["name"] == TENANT)
    recsys["quotas"].update(cpu="12", memory="12Gi")
    ranker = recsys["models"][0]
    recsys["models"] = [
        ranker,
        {
            **ranker,
            "name": "ranker-defaults",
            "features": {"service": SERVICE, "missingEntity": "default", "defaults": DEFAULTS},
        },
        {**ranker, "name": "ranker-stale", "features": {"service": SERVICE, "allowStale": True}},
    ]
    return load_text(yaml.safe_dump(spec), source="test-features.yaml")


def _psycopg_url(pg, user: str, password: str, name: str) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{pg.port}/{name}"


@pytest.fixture(scope="module")
def store(tmp_path_factory, mlflow_server):
    from services.registry.postgres import PostgresNotInstalled, throwaway_postgres

    root = tmp_path_factory.mktemp("feature-store")
    blueprint = _blueprint()
    tenant = blueprint.tenant(TENANT)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        context = throwaway_postgres()
        pg = context.__enter__()
    except PostgresNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        password = "feature-store-test-password"
        superuser = pg.database("postgres").libpq_env()
        create_database(TENANT, password, superuser)
        create_database(TENANT, password, superuser)  # idempotent: the cluster's Job runs it every deploy
        create_database("fraud", "another-tenant-password", superuser)
        env = {**os.environ, "FEAST_DB_PASSWORD": password}

        # the repository, generated from the blueprint, in the cluster's shape
        repo = write_repo(
            feature_repo(tenant, cluster_store(TENANT, "127.0.0.1", pg.port, str(root / "data"))), root / "repo"
        )
        data = dataset.measurements(now)
        old = data[data.flower_id == STALE_FLOWER].copy()
        old["event_timestamp"] = now - timedelta(days=5)
        data = pd.concat([data[data.flower_id != STALE_FLOWER], old.head(1)])
        (root / "data" / "flowers").mkdir(parents=True)
        data.to_parquet(root / "data" / "flowers" / "measurements.parquet")
        cli = [sys.executable, "-m", "services.cli", "features"]
        applied = subprocess.run(
            [*cli, "apply", "--repo", str(repo)], env=env, capture_output=True, text=True, cwd=ROOT
        )
        assert applied.returncode == 0, applied.stdout + applied.stderr
        os.environ["FEAST_DB_PASSWORD"] = password  # Feast expands it in feature_store.yaml
        from feast import FeatureStore

        feast = FeatureStore(repo_path=str(repo))
        # the stale flower's only measurement is older than the TTL: an explicit window puts it online
        feast.materialize(start_date=now - timedelta(days=6), end_date=now - timedelta(days=4))
        done = subprocess.run(
            [*cli, "materialize", "--repo", str(repo), "--tenant", TENANT],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stdout + done.stderr

        # training on point-in-time-correct historical features, registered for all three models
        from services.features.store import historical_features

        training = historical_features(repo, SERVICE, dataset.labels(now)[lambda f: f.flower_id != STALE_FLOWER])
        model = _train_and_register(mlflow_server.uri, training, ["ranker", "ranker-defaults", "ranker-stale"])

        spec_file = root / "serving.json"
        spec_file.write_text(specs_to_json(feature_specs(tenant)))
        os.environ["MLPLAT_ONLINE_STORE"] = _psycopg_url(pg, database(TENANT), password, database(TENANT))
        try:
            server = start_model_server(
                mlflow_server.uri,
                ["models:/ranker@champion", "models:/ranker-defaults@champion", "models:/ranker-stale@champion",
                 "--features", str(spec_file), "--poll-interval", "1"],
                root / "server",
            )  # fmt: skip
        finally:
            os.environ.pop("MLPLAT_ONLINE_STORE")
        yield {
            "pg": pg,
            "feast": feast,
            "repo": repo,
            "now": now,
            "model": model,
            "training": training,
            "server": server,
            "password": password,
            "tenant": tenant,
            "mlflow": mlflow_server.uri,
        }
        server.stop()
    finally:
        os.environ.pop("FEAST_DB_PASSWORD", None)
        context.__exit__(None, None, None)


def _train_and_register(uri: str, training, names: list[str]):
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    x, y = training[list(dataset.MEASUREMENTS)], training["species"]
    estimator = LogisticRegression(max_iter=1000).fit(x, y)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("feature-store-test")
    client = MlflowClient(uri)
    with mlflow.start_run():
        mlflow.log_param("feature_service", SERVICE)
        info = mlflow.sklearn.log_model(
            estimator, name="model", signature=infer_signature(x, estimator.predict(x)), input_example=x.head(3)
        )
    for name in names:
        version = mlflow.register_model(info.model_uri, name).version
        client.set_model_version_tag(name, version, FEATURE_SERVICE_TAG, SERVICE)
        client.set_registered_model_alias(name, "champion", version)
    return estimator


def _v2(server, model: str, *flowers: int) -> httpx.Response:
    body = {"inputs": [{"name": "flower_id", "shape": [len(flowers)], "datatype": "INT64", "data": list(flowers)}]}
    return httpx.post(f"{server.url}/v2/models/{model}/infer", json=body, timeout=30)


def _invocations(server, model: str, *flowers: int) -> httpx.Response:
    body = {"dataframe_records": [{"flower_id": f} for f in flowers]}
    return httpx.post(f"{server.url}/models/{model}/invocations", json=body, timeout=30)


def _metric(server, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_feast_applied_exactly_the_blueprint_definitions(store):
    feast, features = store["feast"], store["tenant"].features
    assert {e.name for e in feast.list_entities()} == {e.name for e in features.entities}
    views = {v.name: v for v in feast.list_feature_views()}
    assert set(views) == {v.name for v in features.feature_views}
    assert [f.name for f in views[VIEW].features] == list(dataset.MEASUREMENTS)
    assert views[VIEW].ttl == timedelta(days=2)
    assert [s.name for s in feast.list_feature_services()] == [SERVICE]
    import psycopg

    with psycopg.connect(_psycopg_url(store["pg"], database(TENANT), store["password"], database(TENANT))) as db:
        tables = {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert online_table(TENANT, VIEW) in tables and "feature_views" in tables  # online store and SQL registry


def test_a_tenant_database_is_closed_to_other_tenants(store):
    import psycopg

    pg = store["pg"]
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(_psycopg_url(pg, database("fraud"), "another-tenant-password", database(TENANT)))
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(_psycopg_url(pg, database(TENANT), store["password"], "mlflow"))  # nor the registry's


def test_no_training_serving_skew(store):
    """Same entity and time: the online features equal the historical ones, and the server's prediction
    from the entity key equals the in-process prediction on the historical row."""
    feast, model, server, now = store["feast"], store["model"], store["server"], store["now"]
    flowers = [1, 51, 101, 149]
    entity_rows = pd.DataFrame({"flower_id": flowers, "event_timestamp": [now] * len(flowers)})
    from services.features.store import historical_features

    historical = historical_features(store["repo"], SERVICE, entity_rows).sort_values("flower_id")
    online = feast.get_online_features(
        features=feast.get_feature_service(SERVICE), entity_rows=[{"flower_id": f} for f in flowers]
    ).to_dict()
    columns = list(dataset.MEASUREMENTS)
    assert historical[columns].to_numpy().tolist() == [[online[c][i] for c in columns] for i in range(len(flowers))]
    expected = model.predict(historical[columns]).tolist()
    v2 = _v2(server, "ranker", *flowers)
    assert v2.status_code == 200, v2.text
    assert v2.json()["outputs"][0]["data"] == expected
    invocations = _invocations(server, "ranker", *flowers)
    assert invocations.status_code == 200 and invocations.json()["predictions"] == expected
    # and the point-in-time join really is point-in-time: ten hours ago the flowers were smaller
    earlier = historical_features(store["repo"], SERVICE, entity_rows.assign(event_timestamp=now - timedelta(hours=10)))
    assert (earlier.sort_values("flower_id")[columns].to_numpy() < historical[columns].to_numpy()).all()


def test_the_server_reads_every_request_format_with_entity_keys(store):
    server = store["server"]
    split = {"dataframe_split": {"columns": ["flower_id"], "data": [[1], [2]]}}
    for body in (split, {"instances": [{"flower_id": 1}, {"flower_id": 2}]}, {"inputs": {"flower_id": [1, 2]}}):
        response = httpx.post(f"{server.url}/invocations", json=body, timeout=30)
        assert response.status_code == 200 and len(response.json()["predictions"]) == 2, response.text


def test_an_unknown_entity_gets_404_naming_it(store):
    response = _v2(store["server"], "ranker", 1, UNKNOWN_FLOWER)
    assert response.status_code == 404
    body = response.json()
    assert body["field"] == "flower_id" and f"flower_id={UNKNOWN_FLOWER}" in body["error"]
    assert "no row in feature view 'flower_measurements'" in body["error"]


def test_an_unknown_entity_gets_the_declared_defaults_when_the_blueprint_says_so(store):
    server, model = store["server"], store["model"]
    before = _metric(server, "mlplat_feature_lookups_total", model="ranker-defaults", result="missing")
    response = _invocations(server, "ranker-defaults", UNKNOWN_FLOWER)
    assert response.status_code == 200, response.text
    assert response.headers["x-feature-defaults"] == "1"
    defaults = pd.DataFrame([DEFAULTS])[list(dataset.MEASUREMENTS)]
    assert response.json()["predictions"] == model.predict(defaults).tolist()
    assert _metric(server, "mlplat_feature_lookups_total", model="ranker-defaults", result="missing") == before + 1


def test_a_value_older_than_its_ttl_is_refused_unless_the_model_allows_stale_features(store):
    server = store["server"]
    refused = _v2(server, "ranker", STALE_FLOWER)
    assert refused.status_code == 404 and "over its TTL of 2.0d" in refused.json()["error"], refused.text
    before = _metric(server, "mlplat_feature_lookups_total", model="ranker-stale", result="stale")
    served = _v2(server, "ranker-stale", STALE_FLOWER)
    assert served.status_code == 200, served.text
    assert served.headers["x-feature-stale"] == VIEW
    assert _metric(server, "mlplat_feature_lookups_total", model="ranker-stale", result="stale") == before + 1
    fresh = _v2(server, "ranker-stale", 1)
    assert "x-feature-stale" not in fresh.headers


def test_bad_entity_keys_get_422_naming_the_field(store):
    server = store["server"]
    fraction = _invocations(server, "ranker", 1.5)
    assert fraction.status_code == 422 and fraction.json()["field"] == "dataframe_records[0].flower_id"
    text = httpx.post(
        f"{server.url}/v2/models/ranker/infer",
        json={"inputs": [{"name": "flower_id", "shape": [1], "datatype": "BYTES", "data": ["a"]}]},
        timeout=30,
    )
    assert text.status_code == 422 and text.json()["field"] == "inputs[flower_id].datatype"


def test_a_version_trained_without_the_feature_service_is_not_served(store):
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    server, training = store["server"], store["training"]
    x = training[list(dataset.MEASUREMENTS)]
    client = MlflowClient(store["mlflow"])
    serving = httpx.get(f"{server.url}/v2/models/ranker", timeout=30).json()["parameters"]["variants"]["champion"]
    with mlflow.start_run():  # the same inputs, but no feature-service tag: trained on something else
        info = mlflow.sklearn.log_model(store["model"], name="model", signature=infer_signature(x, training["species"]))
    version = mlflow.register_model(info.model_uri, "ranker").version
    refused = _metric(server, "mlplat_model_loads_total", model="ranker", result="refused")
    client.set_registered_model_alias("ranker", "champion", version)
    try:
        deadline = time.monotonic() + 60
        while _metric(server, "mlplat_model_loads_total", model="ranker", result="refused") == refused:
            assert time.monotonic() < deadline, "the server did not consider the new version"
            time.sleep(0.5)
        now = httpx.get(f"{server.url}/v2/models/ranker", timeout=30).json()["parameters"]["variants"]["champion"]
        assert now["version"] == serving["version"]  # still the version trained on the service
        assert "trained on no feature service" in server.log_text()
    finally:
        client.set_registered_model_alias("ranker", "champion", serving["version"])


def test_an_unreachable_online_store_gets_503_and_the_server_recovers_by_itself(store):
    pg, server = store["pg"], store["server"]
    before = _v2(server, "ranker", 1)
    assert before.status_code == 200
    pg.stop()
    try:
        down = _v2(server, "ranker", 1)
        assert down.status_code == 503, down.text
        assert "online feature store (PostgreSQL 127.0.0.1" in down.json()["error"]
        assert "retries by itself" in down.json()["error"]
        assert store["password"] not in down.text
        assert httpx.get(f"{server.url}/v2/health/live", timeout=30).status_code == 200  # still up
    finally:
        pg.start()
    deadline = time.monotonic() + 60
    while (answer := _v2(server, "ranker", 1)).status_code != 200:
        assert answer.status_code == 503 and time.monotonic() < deadline, answer.text
        time.sleep(0.5)
    assert answer.json()["outputs"] == before.json()["outputs"]  # the same features, the same answer


def test_fetch_latency_is_measured(store):
    assert _metric(store["server"], "mlplat_feature_fetch_duration_seconds_count", model="ranker") > 0


def test_the_model_server_does_not_import_feast(store):
    """The lean path: the server reads Feast's tables with its own reader (ADR 0018)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, services.model_server.server as s; s.create_app; "
         "import services.model_server.features; print('feast' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "False"
