"""The gate's webhook receiver, fed by a real MLflow server's signed deliveries: new versions are
evaluated, and an alias moved without a passing decision is moved back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules
from services.promotion_gate.webhooks import signature, verify
from tests.services.mlflow_fixtures import free_port, register_iris, stop_group, wait_http

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-of-the-gate"
TAGS = {"owner": "ana", "training_data_digest": "sha256:1", "code_version": "c0ffee"}


def test_signature_verification_rejects_forgeries_replays_and_stale_deliveries():
    body = b'{"entity": "model_version", "action": "created"}'
    now = time.time()
    stamp = str(int(now))
    good = {
        "x-mlflow-delivery-id": "d1",
        "x-mlflow-timestamp": stamp,
        "x-mlflow-signature": signature(SECRET, "d1", stamp, body),
    }
    assert verify(SECRET, good, body, now) is None
    assert verify("other-secret", good, body, now) == "signature mismatch"
    assert verify(SECRET, good, body + b" ", now) == "signature mismatch"
    assert "stale" in verify(SECRET, good, body, now + 301)
    assert "missing" in verify(SECRET, {}, body, now)


@pytest.fixture(scope="module")
def receiver(mlflow_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    port = free_port()
    audit = root / "audit.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "gate",
            "serve",
            "--port",
            str(port),
            "--register",
            "--tracking-uri",
            mlflow_server.uri,
            "--audit-log",
            str(audit),
        ],
        env={**os.environ, "MLPLAT_WEBHOOK_SECRET": SECRET},
        cwd=ROOT,
        start_new_session=True,
        stdout=(root / "gate.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, process)
        yield f"http://127.0.0.1:{port}", AuditLog(audit)
    finally:
        stop_group(process)


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_unsigned_deliveries_are_refused(receiver):
    url, _ = receiver
    response = httpx.post(f"{url}/webhooks/mlflow", json={"entity": "model_version", "action": "created"})
    assert response.status_code == 401 and "missing" in response.json()["error"]


def test_a_new_version_is_evaluated_automatically(mlflow_server, receiver):
    _, audit = receiver
    version = register_iris(mlflow_server.uri, "hooked", alias=None)
    client = MlflowClient(mlflow_server.uri)
    assert _wait_for(lambda: "platform.mlops/evaluation" in client.get_model_version("hooked", version).tags)
    assert client.get_model_version("hooked", version).tags["platform.mlops/evaluation"] == "fail"  # no tags etc.
    assert any(e.get("event") == "evaluation" and e["version"] == version for e in audit.entries())


def test_the_alias_guard_moves_back_an_alias_moved_around_the_gate(mlflow_server, receiver):
    _, audit = receiver
    client = MlflowClient(mlflow_server.uri)
    good = register_iris(mlflow_server.uri, "guarded", alias=None, tags=TAGS)
    client.update_model_version("guarded", good, description="guarded model")
    registry.approve(client, "guarded", good, "bo")
    decision = promote(client, load_rules(), audit, "guarded", good, "champion")
    assert decision.moved
    time.sleep(1)  # the gate's own move arrives as a webhook too, and is allowed
    assert client.get_model_version_by_alias("guarded", "champion").version == good

    sneaky = register_iris(mlflow_server.uri, "guarded", alias=None)
    client.set_registered_model_alias("guarded", "champion", sneaky)  # around the gate
    assert _wait_for(lambda: client.get_model_version_by_alias("guarded", "champion").version == good)
    guard = [e for e in audit.entries() if e.get("event") == "alias-guard"]
    assert guard and guard[-1]["version"] == sneaky and guard[-1]["restored"] == good
    assert audit.verify() == len(audit.entries())


def test_an_alias_set_on_a_model_the_gate_never_passed_is_deleted(mlflow_server, receiver):
    client = MlflowClient(mlflow_server.uri)
    version = register_iris(mlflow_server.uri, "unguarded", alias=None)
    client.set_registered_model_alias("unguarded", "champion", version)

    def gone():
        try:
            client.get_model_version_by_alias("unguarded", "champion")
        except Exception:
            return True
        return False

    assert _wait_for(gone)
