"""The promotion gate against a real MLflow registry: decisions on the version, the audit log, the
alias moved only on a pass, concurrency."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules
from tests.services.mlflow_fixtures import register_iris

ROOT = Path(__file__).resolve().parents[2]
COMPLETE_TAGS = {"owner": "ana", "training_data_digest": "sha256:1234", "code_version": "abc123"}


def _complete_version(uri: str, name: str, C: float = 1.0) -> str:
    version = register_iris(uri, name, alias=None, C=C, tags=COMPLETE_TAGS)
    client = MlflowClient(uri)
    client.update_model_version(name, version, description="Iris classifier; intended for the platform demo.")
    registry.approve(client, name, version, "bo")
    return version


@pytest.fixture
def gate(mlflow_server, tmp_path):
    return MlflowClient(mlflow_server.uri), load_rules(), AuditLog(tmp_path / "audit.jsonl")


def test_a_complete_version_passes_is_recorded_audited_and_becomes_champion(mlflow_server, gate):
    client, rules, audit = gate
    version = _complete_version(mlflow_server.uri, "gate-pass")
    decision = promote(client, rules, audit, "gate-pass", version, "champion", actor="ci")
    assert decision.passed and decision.moved, decision.table()
    assert client.get_model_version_by_alias("gate-pass", "champion").version == version
    tags = client.get_model_version("gate-pass", version).tags
    assert tags["platform.mlops/decision"] == "pass"
    assert tags["platform.mlops/decision-rules"] == rules.version
    assert tags["platform.mlops/decision-audit"] == audit.entries()[-1]["hash"]
    assert audit.verify() == 1 and audit.entries()[0]["actor"] == "ci"


def test_a_failing_version_is_recorded_but_the_alias_does_not_move(mlflow_server, gate):
    client, rules, audit = gate
    champion = _complete_version(mlflow_server.uri, "gate-fail")
    promote(client, rules, audit, "gate-fail", champion, "champion")
    bare = register_iris(mlflow_server.uri, "gate-fail", alias=None)  # no tags, no description, no approval
    decision = promote(client, rules, audit, "gate-fail", bare, "champion")
    assert not decision.passed and not decision.moved
    failed = {v.rule for v in decision.verdicts if not v.passed}
    assert failed == {"required-tags", "model-card", "approvals"}
    assert client.get_model_version_by_alias("gate-fail", "champion").version == champion
    assert client.get_model_version("gate-fail", bare).tags["platform.mlops/decision"] == "fail"
    assert [e["decision"] for e in audit.entries()] == ["pass", "fail"]


def test_a_version_worse_than_the_champion_fails_the_relative_rule(mlflow_server, gate):
    client, rules, audit = gate
    champion = _complete_version(mlflow_server.uri, "gate-relative", C=1.0)
    promote(client, rules, audit, "gate-relative", champion, "champion")
    weaker = _complete_version(mlflow_server.uri, "gate-relative", C=0.003)  # heavily regularised: lower accuracy
    decision = promote(client, rules, audit, "gate-relative", weaker, "champion")
    relative = next(v for v in decision.verdicts if v.rule == "accuracy-vs-champion")
    assert not relative.passed and f"champion v{champion}" in relative.evidence


def test_dry_run_records_nothing(mlflow_server, gate):
    client, rules, audit = gate
    version = _complete_version(mlflow_server.uri, "gate-dry")
    decision = promote(client, rules, audit, "gate-dry", version, "champion", dry_run=True)
    assert decision.passed and not decision.moved
    assert "platform.mlops/decision" not in client.get_model_version("gate-dry", version).tags
    assert audit.entries() == []


def test_two_concurrent_promotions_leave_the_registry_consistent_and_both_are_audited(mlflow_server, gate):
    client, rules, audit = gate
    versions = [_complete_version(mlflow_server.uri, "gate-race") for _ in range(2)]
    results = {}

    def run(version):
        results[version] = promote(MlflowClient(mlflow_server.uri), rules, audit, "gate-race", version, "champion")

    threads = [threading.Thread(target=run, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = audit.entries()
    assert sorted(e["version"] for e in entries) == sorted(versions)
    assert audit.verify() == 2
    # The alias ends on the version whose pass was recorded last, and that version carries a pass.
    holder = client.get_model_version_by_alias("gate-race", "champion").version
    assert holder == [e["version"] for e in entries if e["decision"] == "pass"][-1]
    assert client.get_model_version("gate-race", holder).tags["platform.mlops/decision"] == "pass"


def test_cli_promote_prints_the_table_and_exits_1_on_fail(mlflow_server, tmp_path):
    bare = register_iris(mlflow_server.uri, "gate-cli", alias=None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "promote",
            "gate-cli",
            bare,
            "--to",
            "champion",
            "--tracking-uri",
            mlflow_server.uri,
            "--audit-log",
            str(tmp_path / "a.jsonl"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "required-tags" in done.stdout and "FAIL" in done.stdout and "not moved" in done.stdout
    verify = subprocess.run(
        [sys.executable, "-m", "services.cli", "audit", "verify", "--audit-log", str(tmp_path / "a.jsonl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert verify.returncode == 0 and "1 decisions, hash chain intact" in verify.stdout
