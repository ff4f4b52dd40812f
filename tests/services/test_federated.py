"""A federated run end to end: `mlplat fl run` with real Flower (the federated environment) and a real
MLflow. Secure aggregation with devices dropping mid-round, every round in MLflow, the model
registered with what the gate checks, and the gate passing it for the challenger. (The gate run by
`mlplat fl run` itself, with the gate's credentials, and the model served: tests/e2e/test_federated_demo.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from blueprints.loader import BLUEPRINT_DIR
from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]

# The shipped blueprint's model, made small: 20 devices all sampled, 6 of them dropping each round.
SMALL = {"devices": 20, "fractionPerRound": 1.0, "rounds": 5, "dropoutRate": 0.3, "data": {"samples": 5_000}}


@pytest.fixture(scope="module")
def small_blueprint(tmp_path_factory) -> Path:
    spec = yaml.safe_load((BLUEPRINT_DIR / "federated.yaml").read_text())
    spec["tenants"][0]["models"][0]["federated"].update(SMALL)
    path = tmp_path_factory.mktemp("blueprint") / "small-federated.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def fl_run(mlflow_server, small_blueprint) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "fl", "run", "--tenant", "mobile", "--blueprint", str(small_blueprint)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri},
        check=False,
        timeout=600,
    )


def test_fl_run_shows_each_round_with_the_devices_that_answered_and_the_accuracy(fl_run):
    assert fl_run.returncode == 0, fl_run.stdout[-3000:] + fl_run.stderr[-3000:]
    lines = fl_run.stdout.splitlines()
    assert any("SecAgg+ (13 shares, threshold 7)" in line for line in lines)  # sized for 6 of 20 dropping
    rounds = [line for line in lines if line.strip().startswith("round ")]
    assert len(rounds) == 5
    assert all("14/20 devices answered (6 dropped mid-round)" in line and "accuracy 0." in line for line in rounds)
    assert "registered activity version 1" in fl_run.stdout


def test_every_round_is_in_mlflow_and_the_version_carries_what_the_gate_checks(fl_run, mlflow_server):
    assert fl_run.returncode == 0, fl_run.stderr[-3000:]
    client = MlflowClient(mlflow_server.uri)
    version = client.get_model_version("activity", "1")
    history = client.get_metric_history(version.run_id, "accuracy")
    assert [m.step for m in history][:5] == [1, 2, 3, 4, 5]
    answered = client.get_metric_history(version.run_id, "devices_answered")
    assert [m.value for m in answered] == [14.0] * 5
    assert client.get_run(version.run_id).data.metrics["accuracy"] >= 0.9
    assert version.tags["owner"] == "mobile"
    assert version.tags["training_data_digest"].startswith("sha256:")
    assert version.tags["code_version"].startswith("services.federated sha256:")
    assert version.tags["platform.mlops/federated"] == "true"
    assert "federated learning over 20 simulated devices" in version.description
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "reference")}
    assert artifacts == {"reference/feature_distribution.json"}


def test_the_gate_passes_the_federated_version_for_the_challenger_and_wants_a_person_for_champion(
    fl_run, mlflow_server, tmp_path
):
    assert fl_run.returncode == 0, fl_run.stderr[-3000:]
    client = registry.client(mlflow_server.uri)
    rules, audit = load_rules(), AuditLog(tmp_path / "audit.jsonl")
    challenger = promote(client, rules, audit, "activity", "1", "challenger", actor="test")
    assert challenger.passed, challenger.table()
    champion = promote(client, rules, audit, "activity", "1", "champion", actor="test")
    assert [v.rule for v in champion.verdicts if not v.passed] == ["approvals"]
