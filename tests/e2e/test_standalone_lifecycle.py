"""End to end on the standalone platform: up -> train -> register -> gate -> promote -> serve ->
traffic -> metrics -> drift alert -> dashboards -> down, with real MLflow, model servers, gate,
Prometheus and Alertmanager processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from blueprints import load
from services.demo import Demo
from services.monitoring.dashboards import KEY_PANELS, panel_queries
from services.promotion_gate.audit import AuditLog
from services.standalone.plan import find_binary, plan
from services.standalone.supervisor import busy_ports
from tests.services.mlflow_fixtures import wait_http

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = "multi-tenant"


def _free_offset(tmp_path: Path) -> int:
    for offset in range(2000, 20000, 137):
        if not busy_ports(plan(load(BLUEPRINT), tmp_path, port_offset=offset)):
            return offset
    raise RuntimeError("no free set of ports")


def _query(prometheus: str, expr: str) -> dict:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture
def platform(tmp_path):
    if find_binary("prometheus") is None or find_binary("alertmanager") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install prometheus and prometheus-alertmanager (.ci/run)")
        pytest.skip("Prometheus/Alertmanager not installed: apt-get install prometheus prometheus-alertmanager")
    root = tmp_path / "platform"
    offset = _free_offset(tmp_path)
    log = (tmp_path / "standalone.log").open("ab")
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "standalone",
            "--blueprint",
            BLUEPRINT,
            "--root",
            str(root),
            "--port-offset",
            str(offset),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started = time.monotonic()
    state = root / "standalone.json"
    while not state.exists():
        if supervisor.poll() is not None or time.monotonic() - started > 180:
            supervisor.kill()
            pytest.fail(f"standalone did not come up:\n{(tmp_path / 'standalone.log').read_text()[-3000:]}")
        time.sleep(0.5)
    components = {c["name"]: c for c in json.loads(state.read_text())["components"]}
    for component in components.values():
        wait_http(component["health"], 60)
    yield root, components, supervisor
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=60)


def test_the_whole_lifecycle_on_the_standalone_platform(platform):
    root, components, supervisor = platform
    blueprint = load(BLUEPRINT)
    summary = Demo(blueprint, root, say=lambda line: None, drift_timeout=300).run()

    # predictions were checked against the iris labels by the demo
    assert summary["answers"] == 60 * sum(len(t.models) for t in blueprint.tenants)
    # the gate recorded a passing decision for every champion and challenger, in an intact chain
    audit = AuditLog(root / "audit" / "promotions.jsonl")
    promotions = [e for e in audit.entries() if e.get("event", "promotion") == "promotion"]
    expected = sum(1 + bool(m.canary_weight) for t in blueprint.tenants for m in t.models)
    assert len(promotions) == expected and all(e["decision"] == "pass" for e in promotions)
    assert audit.verify() == len(audit.entries())
    # the drift alert reached the firing state
    assert summary["drift_alert"]["state"] == "firing"
    # Prometheus scraped every model server
    prometheus = components["prometheus"]["url"]
    up = _query(prometheus, 'up{job="model-server"}')["data"]["result"]
    assert {r["metric"]["tenant"] for r in up} == {t.name for t in blueprint.tenants}
    assert all(r["value"][1] == "1" for r in up)
    # every dashboard panel query runs; the key panels return data
    empty = set()
    for _, title, expr in panel_queries():
        result = _query(prometheus, expr)
        assert result["status"] == "success", (title, result)
        if not result["data"]["result"]:
            empty.add(title)
    assert not empty & set(KEY_PANELS), empty

    # cost showback puts the model servers' measured usage beside their requests
    cost = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "cost",
            "--blueprint",
            BLUEPRINT,
            "--json",
            "--prometheus",
            prometheus,
            "--window",
            "1m",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    tenants = {t["tenant"]: t for t in json.loads(cost.stdout)["tenants"]}
    assert all(tenants[t.name]["used_cpu_cores"] is not None for t in blueprint.tenants), tenants
    assert tenants["fraud"]["memory_request_to_usage"] > 0

    # `mlplat status` shows each tenant's served models with the version of each variant
    status = subprocess.run(
        [sys.executable, "-m", "services.cli", "status", "--root", str(root), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    served = {s["model"]: s["variants"] for c in json.loads(status.stdout)["components"] for s in c.get("served", [])}
    assert set(served) == {m.name for t in blueprint.tenants for m in t.models}
    assert served["fraud-scorer"]["champion"] == "1" and served["fraud-scorer"]["challenger"] == "2"

    # tear down: SIGTERM, and nothing is left running
    pids = [c["pid"] for c in components.values()]
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=60)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in pids if _alive(p)] == []
    assert not (root / "standalone.json").exists()


def test_registry_data_survives_a_restart(tmp_path):
    from mlflow.tracking import MlflowClient

    from tests.services.mlflow_fixtures import register_iris

    root = tmp_path / "platform"
    offset = _free_offset(tmp_path)
    command = [
        sys.executable,
        "-m",
        "services.cli",
        "standalone",
        "--blueprint",
        "foundation",
        "--root",
        str(root),
        "--port-offset",
        str(offset),
    ]
    versions = []
    for attempt in range(2):
        log = (tmp_path / f"standalone-{attempt}.log").open("ab")
        supervisor = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while not (root / "standalone.json").exists():
                assert supervisor.poll() is None and time.monotonic() < deadline, (
                    tmp_path / f"standalone-{attempt}.log"
                ).read_text()[-2000:]
                time.sleep(0.5)
            mlflow_url = next(
                c["url"]
                for c in json.loads((root / "standalone.json").read_text())["components"]
                if c["name"] == "mlflow"
            )
            # (no alias: the running gate's alias guard would rightly remove one set around the gate)
            if attempt == 0:
                versions.append(register_iris(mlflow_url, "persisted", alias=None, tags={"owner": "ana"}))
            else:
                kept = MlflowClient(mlflow_url).get_model_version("persisted", versions[0])
                assert kept.tags["owner"] == "ana" and kept.run_id
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(timeout=60)
