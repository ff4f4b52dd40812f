"""A data subject's erasure end to end, on the cluster's shape: real PostgreSQL 15, Feast, MLflow.

The enterprise blueprint's payments tenant: customer features (personal data, `customer` the data
subject) in a Feast repository generated from the blueprint, its online store and SQL registry in the
tenant's database on a throwaway PostgreSQL (the cluster Job's own script made it), materialized from
Parquet. Three versions of risk-scorer are registered on a real MLflow server: one whose training
lineage lists customer 7, one whose lineage does not, one trained on the feature service with no lineage
recorded. Then `mlplat gdpr erase --tenant payments --entity customer_id=7` runs through the CLI's own
entry point (in this process: Feast's import alone costs a subprocess seconds).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pandas as pd
import pytest

from blueprints import load
from services.cli import main
from services.compliance.erasure import RETRAIN_TAG
from services.compliance.lineage import SUBJECTS_TAG, record_training_subjects, subject_digest
from services.features import customers
from services.features.database import create_database
from services.features.encoding import entity_key
from services.features.names import FEATURE_SERVICE_TAG, database, online_table
from services.features.repo import cluster_store, feature_repo, write_repo
from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules

TENANT, VIEW, SERVICE = "payments", "customer_activity", "risk_v1"
KEY, FEATURES = customers.KEY, customers.FEATURES
CUSTOMERS = range(1, 41)
SUBJECT = 7
PASSWORD = "erasure-test-password"


def _online_keys(pg) -> set[bytes]:
    import psycopg

    url = f"postgresql://{database(TENANT)}:{PASSWORD}@127.0.0.1:{pg.port}/{database(TENANT)}"
    with psycopg.connect(url) as db:
        return {bytes(r[0]) for r in db.execute(f'SELECT DISTINCT entity_key FROM "{online_table(TENANT, VIEW)}"')}


def _register(uri: str, training: pd.DataFrame, *, lineage: bool) -> str:
    """Train risk-scorer on `training` (historical features), register a version with everything the
    gate checks, tagged with the feature service; record its subjects when `lineage`."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    customers = set(training[KEY])
    x, y = training[list(FEATURES)], (training["chargebacks_90d"] > 2).astype(int)
    model = LogisticRegression(max_iter=500).fit(x, y)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("payments-risk-scorer")
    with mlflow.start_run():
        mlflow.log_metric("accuracy", float(model.score(x, y)))
        if lineage:
            assert record_training_subjects(TENANT, training, [KEY]) == len(customers)
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(x, model.predict(x)), input_example=x.head(3),
            registered_model_name="risk-scorer",
        )  # fmt: skip
    client, version = registry.client(uri), str(info.registered_model_version)
    tags = {"owner": TENANT, "training_data_digest": f"feast:{TENANT}/{SERVICE}", "code_version": "test",
            FEATURE_SERVICE_TAG: SERVICE}  # fmt: skip
    for key, value in tags.items():
        client.set_model_version_tag("risk-scorer", version, key, value)
    client.update_model_version("risk-scorer", version, description="Risk scorer for the erasure test.")
    return version


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_server):
    from services.registry.postgres import PostgresNotInstalled, throwaway_postgres

    root = tmp_path_factory.mktemp("erasure")
    tenant = load("enterprise").tenant(TENANT)
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        context = throwaway_postgres()
        pg = context.__enter__()
    except PostgresNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        create_database(TENANT, PASSWORD, pg.database("postgres").libpq_env())
        os.environ["FEAST_DB_PASSWORD"] = PASSWORD  # Feast expands it in feature_store.yaml
        repo = write_repo(
            feature_repo(tenant, cluster_store(TENANT, "127.0.0.1", pg.port, str(root / "data"))), root / "repo"
        )
        source = root / "data" / "customers" / "activity.parquet"
        source.parent.mkdir(parents=True)
        customers.activity(now, len(CUSTOMERS)).to_parquet(source, index=False)
        from services.features.store import apply, historical_features, materialize

        apply(repo)
        materialize(repo, tenant=TENANT)
        training = historical_features(repo, SERVICE, customers.labels(now, len(CUSTOMERS)))
        versions = {
            "with": _register(mlflow_server.uri, training, lineage=True),
            "without": _register(mlflow_server.uri, training[training[KEY] >= 10], lineage=True),
            "unknown": _register(mlflow_server.uri, training, lineage=False),
        }
        yield {"pg": pg, "repo": repo, "source": source, "versions": versions, "uri": mlflow_server.uri,
               "audit": root / "audit" / "promotions.jsonl"}  # fmt: skip
    finally:
        os.environ.pop("FEAST_DB_PASSWORD", None)
        context.__exit__(None, None, None)


def _erase(world, capsys, entity: str):
    """`mlplat gdpr erase ...`: (exit code, standard output, standard error)."""
    capsys.readouterr()
    where = ["--repo", str(world["repo"]), "--registry", world["uri"], "--audit-log", str(world["audit"])]
    code = main(["gdpr", "erase", "--blueprint", "enterprise", "--tenant", TENANT, "--entity", entity, *where])
    out, err = capsys.readouterr()
    return code, out, err


def _tags(world, label: str) -> dict[str, str]:
    return dict(registry.client(world["uri"]).get_model_version("risk-scorer", world["versions"][label]).tags)


def test_an_unknown_subject_is_refused_and_nothing_changes(world, capsys):
    before = (world["source"].read_bytes(), _online_keys(world["pg"]))
    code, _, err = _erase(world, capsys, "customer_id=999")
    assert code == 2, err
    assert "no such subject in tenant payments" in err and "nothing was changed" in err
    assert (world["source"].read_bytes(), _online_keys(world["pg"])) == before
    assert not world["audit"].exists()
    assert RETRAIN_TAG not in _tags(world, "with")


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        ("customer=7", "'customer' is not a join key of tenant payments (its keys: customer_id)"),
        ("customer_id=seven", "customer_id is an int64 key; 'seven' is not an integer"),
        ("customer_id", "write <join key>=<value>"),
    ],
)
def test_a_malformed_request_is_refused_naming_the_fix(world, capsys, entity, message):
    code, _, err = _erase(world, capsys, entity)
    assert code == 2 and message in err, err
    assert not world["audit"].exists()


def test_the_erasure_removes_the_rows_records_it_and_marks_the_versions_trained_on_the_subject(world, capsys):
    subject_key = entity_key([KEY], ["int64"], [SUBJECT])
    assert subject_key in _online_keys(world["pg"])
    offline_before = pd.read_parquet(world["source"])
    code, out, err = _erase(world, capsys, f"customer_id={SUBJECT}")
    assert code == 0, out + err
    assert "customer_activity: 3 offline rows removed" in out and "the gate refuses it" in out

    offline = pd.read_parquet(world["source"])  # the rows are gone, offline and online; nobody else's
    assert SUBJECT not in set(offline[KEY]) and len(offline) == len(offline_before) - 3
    assert offline[offline[KEY] != SUBJECT].shape == offline_before[offline_before[KEY] != SUBJECT].shape
    online = _online_keys(world["pg"])
    assert subject_key not in online and len(online) == len(CUSTOMERS) - 1

    log = AuditLog(world["audit"])  # the record: in the intact chain, naming the subject by digest only
    (record,) = log.entries()
    assert log.verify() == 1
    assert record["event"] == "erasure" and record["tenant"] == TENANT
    assert record["subject"] == subject_digest(TENANT, KEY, SUBJECT)
    assert record["removed"] == {VIEW: {"offline": 3, "online": len(FEATURES)}}
    assert '"7"' not in world["audit"].read_text() and "=7" not in world["audit"].read_text()
    assert {(r["model"], r["version"]) for r in record["retrain"]} == {
        ("risk-scorer", world["versions"]["with"]),
        ("risk-scorer", world["versions"]["unknown"]),
    }

    # marked: the version whose lineage lists the subject, and the one with no lineage at all
    assert _tags(world, "with")[RETRAIN_TAG].startswith(f"erasure {record['hash'][:12]}")
    assert "no subject lineage recorded" in _tags(world, "unknown")[RETRAIN_TAG]
    assert RETRAIN_TAG not in _tags(world, "without")
    run = registry.client(world["uri"]).get_model_version("risk-scorer", world["versions"]["without"]).run_id
    assert registry.client(world["uri"]).get_run(run).data.tags[SUBJECTS_TAG] == "31"  # its lineage: 31 others


def test_the_gate_refuses_the_marked_versions_with_the_reason_and_passes_the_other(world):
    client, rules = registry.client(world["uri"]), load_rules()
    audit = AuditLog(world["audit"])
    for label, refused in (("with", True), ("unknown", True), ("without", False)):
        decision = promote(client, rules, audit, "risk-scorer", world["versions"][label], "challenger", dry_run=True)
        verdict = next(v for v in decision.verdicts if v.rule == "no-erased-training-data")
        assert verdict.passed is not refused, (label, verdict)
        if refused:
            assert not decision.passed and "trained on an erased subject's data" in verdict.evidence


def test_a_second_erasure_changes_nothing_and_says_so(world, capsys):
    before = (world["source"].read_bytes(), _online_keys(world["pg"]), world["audit"].read_text())
    code, out, err = _erase(world, capsys, f"customer_id={SUBJECT}")
    assert code == 0, err
    assert "already erased" in out
    assert (world["source"].read_bytes(), _online_keys(world["pg"]), world["audit"].read_text()) == before


def test_the_walkthrough_step_erases_a_customer_on_the_standalone_store(tmp_path, mlflow_server):
    """The demo's step, on standalone's shape: SQLite online store and registry, Parquet under .mlplat."""
    from services.compliance.walkthrough import erasure_walkthrough
    from services.features.repo import standalone_dir, standalone_store
    from services.features.store import apply

    tenant = load("enterprise").tenant(TENANT)
    repo = write_repo(
        feature_repo(tenant, standalone_store(tmp_path, TENANT)), standalone_dir(tmp_path, TENANT) / "repo"
    )
    apply(repo)
    said: list[str] = []
    audit = AuditLog(tmp_path / "audit" / "promotions.jsonl")
    done = erasure_walkthrough(
        tenant, repo, standalone_dir(tmp_path, TENANT) / "data", mlflow_server.uri, audit, say=said.append
    )
    assert done.version in {m.version for m in done.erasure.marked}  # (earlier tests' versions may be too)
    assert sum(v.offline for v in done.erasure.rows.views) == 3
    assert sum(v.online for v in done.erasure.rows.views) == len(FEATURES)  # SQLite online rows, one per feature
    assert "trained on an erased subject's data" in done.gate_evidence
    assert audit.verify() == 1 and any("the gate refuses" in line for line in said)
