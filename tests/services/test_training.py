"""Continuous training against a real MLflow: `mlplat train` registers versions the gate passes for the
challenger (and not for the champion without a person), a failing run changes nothing, and the trigger
turns a storm of drift alerts into one run whose version becomes the challenger."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from blueprints import load
from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules
from services.training.alerts import parse_alertmanager
from services.training.launcher import SubprocessLauncher
from services.training.runner import TRAINING_RUN_TAG
from services.training.service import MlflowRegistry, TriggerService
from services.training.targets import training_targets
from tests.unit.test_training_trigger import _drift, _payload

ROOT = Path(__file__).resolve().parents[2]


def _train(uri: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "train", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, **(env or {})},
        check=False,
    )


def test_a_training_run_registers_what_the_gate_requires_and_only_the_challenger_passes(mlflow_server, tmp_path):
    run = _train(
        mlflow_server.uri, "trained-iris", "--tenant", "data-science", "--entry-point", "services.training.iris:train"
    )
    assert run.returncode == 0, run.stderr[-2000:]
    client = registry.client(mlflow_server.uri)  # the gate resolves models:/ URIs through MLflow's global URI
    version = client.get_model_version("trained-iris", "1")
    assert version.tags["owner"] == "data-science"
    assert version.tags["training_data_digest"].startswith("sha256:")
    assert version.tags["code_version"].startswith("services.training.iris:train sha256:")
    assert version.tags[TRAINING_RUN_TAG] == version.run_id
    assert "iris species" in version.description
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "reference")}
    assert artifacts == {"reference/feature_distribution.json"}

    rules, audit = load_rules(), AuditLog(tmp_path / "audit.jsonl")
    challenger = promote(client, rules, audit, "trained-iris", "1", "challenger", actor="test")
    assert challenger.passed, challenger.table()
    champion = promote(client, rules, audit, "trained-iris", "1", "champion", actor="test")
    assert [v.rule for v in champion.verdicts if not v.passed] == ["approvals"]


def test_an_mlflow_project_is_trained_and_registered_the_same_way(mlflow_server):
    run = _train(
        mlflow_server.uri, "project-iris", "--tenant", "data-science", "--project", "services/training/projects/iris"
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    version = MlflowClient(mlflow_server.uri).get_model_version("project-iris", "1")
    assert version.tags["training_data_digest"].startswith("sha256:") and version.description


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        ("tests.services.training_entrypoints:broken", "the feature store is down"),
        ("tests.services.training_entrypoints:not_a_result", "returned dict; return a services.training.contract"),
    ],
)
def test_a_failing_run_is_marked_failed_and_registers_nothing(mlflow_server, entry_point, message):
    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"failing-{entry_point.rsplit(':', 1)[1]}")
    run_id = client.create_run(experiment).info.run_id
    run = _train(
        mlflow_server.uri,
        "failing-iris",
        "--tenant",
        "t",
        "--entry-point",
        entry_point,
        env={"MLPLAT_TRAINING_RUN_ID": run_id},
    )
    assert run.returncode != 0 and message in run.stdout + run.stderr
    assert client.get_run(run_id).info.status == "FAILED"
    assert client.search_model_versions("name='failing-iris'") == []


def _wait(check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
    return result


@pytest.fixture
def trigger(mlflow_server, tmp_path):
    """The real trigger core: MLflow runs and the gate, `mlplat train` subprocesses."""
    target = replace(training_targets(load("foundation"))[0], model="retrained-iris")
    target = replace(target, args=tuple("retrained-iris" if a == "iris" else a for a in target.args))
    audit = AuditLog(tmp_path / "audit.jsonl")
    client = registry.client(mlflow_server.uri)
    launcher = SubprocessLauncher(tmp_path / "logs", env={"MLFLOW_TRACKING_URI": mlflow_server.uri})
    service = TriggerService([target], launcher, MlflowRegistry(client, load_rules(), audit), audit)
    yield service, target, client, audit
    service.close()


def test_a_storm_of_drift_alerts_retrains_once_and_the_version_becomes_the_challenger(trigger):
    service, target, client, audit = trigger
    for index in range(10):  # Alertmanager re-sending, several features drifting: one run
        service.on_alerts(
            parse_alertmanager(
                _payload({**_drift(f"fp{index}"), "labels": {**_drift("x")["labels"], "model": target.model}})
            )
        )
    started = [e for e in audit.entries() if e.get("decision") == "started"]
    assert len(started) == 1 and len([e for e in audit.entries() if e.get("decision") == "skipped"]) == 9

    def finished():
        service.check_runs()
        return [e for e in audit.entries() if e.get("event") == "training-run"]

    (run,) = _wait(finished)
    assert (run["outcome"], run["gate"], run["run_id"]) == ("succeeded", "pass", started[0]["run_id"]), run
    challenger = client.get_model_version_by_alias(target.model, target.challenger_alias)
    assert challenger.version == run["version"] and challenger.run_id == run["run_id"]
    assert audit.verify() == len(audit.entries())
    with pytest.raises(Exception, match="not found"):
        client.get_model_version_by_alias(target.model, "champion")  # never champion without the gate


def test_a_failing_training_run_changes_nothing_that_is_served(trigger):
    service, target, client, audit = trigger
    good = replace(target, args=target.args)
    service.trigger(good, "drift")
    _wait(lambda: service.check_runs() or [e for e in audit.entries() if e.get("event") == "training-run"])
    served = client.get_model_version_by_alias(target.model, target.challenger_alias).version

    broken = replace(target, args=(*target.args[:-1], "tests.services.training_entrypoints:broken"))
    service.targets[broken.key] = broken
    service.trigger(broken, "drift", fingerprint="fp-broken")
    runs = _wait(lambda: service.check_runs() or [e for e in audit.entries() if e.get("event") == "training-run"][1:])
    assert runs[0]["outcome"] == "failed" and runs[0]["reason"] == "the run failed"
    assert "the feature store is down" in Path(runs[0]["where"]).read_text()
    assert client.get_run(runs[0]["run_id"]).info.status == "FAILED"
    assert client.get_model_version_by_alias(target.model, target.challenger_alias).version == served
