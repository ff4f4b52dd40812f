"""End to end on the standalone platform: up -> train -> register -> gate -> promote -> serve ->
traffic -> batch -> metrics -> drift alert -> retrain -> gate -> challenger -> dashboards -> down, with
real MLflow, model servers, gate, training trigger, Prometheus, Alertmanager and Pushgateway processes."""

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
from tests.e2e.standalone import alive, claimed_offset, running_standalone
from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = "multi-tenant"


def _query(prometheus: str, expr: str) -> dict:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def platform(tmp_path):
    for tool in ("prometheus", "alertmanager", "pushgateway"):
        require(tool)  # the loop needs every one of them: a missing one fails with how to install it
    # as when `make test` imported Feast before this test (Feast sets it on import): the components
    # must decide their metrics mode themselves, or cost showback finds no usage (CI found this)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with running_standalone(BLUEPRINT, tmp_path, env) as platform:
        yield platform


def test_the_whole_lifecycle_on_the_standalone_platform(platform):
    root, components, supervisor = platform
    blueprint = load(BLUEPRINT)
    lines: list[str] = []
    summary = Demo(blueprint, root, say=lines.append, drift_timeout=300, retrain_timeout=300).run()
    print("\n".join(lines))  # shown by pytest -s, and on failure

    # predictions were checked against the iris labels by the demo
    assert summary["answers"] == 60 * sum(len(t.models) for t in blueprint.tenants)
    # the gate recorded a passing decision for every champion and challenger, in an intact chain
    audit = AuditLog(root / "audit" / "promotions.jsonl")
    promotions = [e for e in audit.entries() if e.get("event", "promotion") == "promotion" and e["actor"] == "demo"]
    expected = sum(1 + bool(m.canary_weight) for t in blueprint.tenants for m in t.models)
    assert len(promotions) == expected and all(e["decision"] == "pass" for e in promotions)
    assert audit.verify() == len(audit.entries())
    # the batch job scored its file once, rejecting the two bad rows with their reasons
    assert [(b["job"], b["scored"], b["rejected"]) for b in summary["batch"]] == [("demand-nightly", 150, 2)]
    # the drift alert reached the firing state
    assert summary["drift_alert"]["state"] == "firing"

    # the loop closed by itself: the alert's notification started one run, whose version the gate
    # passed for the challenger alias, and the model server serves it its share of traffic
    retrain = summary["retrain"]
    started = [e for e in audit.entries() if e.get("event") == "training-trigger" and e["decision"] == "started"]
    assert [(e["model"], e["trigger"], e["run_id"]) for e in started] == [("fraud-scorer", "drift", retrain["run_id"])]
    assert started[0]["fingerprint"] == retrain["fingerprint"] and started[0]["alertname"] == "ModelFeatureDrift"
    gate = [e for e in audit.entries() if e.get("actor") == "training-trigger" and "rules_version" in e]
    assert [(e["model"], e["version"], e["alias"], e["decision"]) for e in gate] == [
        ("fraud-scorer", retrain["version"], "challenger", "pass")
    ]
    assert 0.05 <= retrain["challenger_share"] <= 0.15  # canary weight 10 %, over 400 requests
    print(f"drift alert firing -> challenger serving: {retrain['seconds_to_serving']}s")
    # Prometheus scraped every model server, and the registry, signed in as platform.monitoring
    prometheus = components["prometheus"]["url"]
    registry = _query(prometheus, 'up{job="registry-server"}')["data"]["result"]
    assert [r["value"][1] for r in registry] == ["1"], registry
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

    # cost showback puts the model servers' measured usage beside their requests: a rate over a 1m window
    # needs two scrapes of every server in it, which a loaded machine can delay, so ask again for up to 2 minutes
    command = [sys.executable, "-m", "services.cli", "cost", "--blueprint", BLUEPRINT, "--json"]
    command += ["--prometheus", prometheus, "--window", "1m"]
    deadline = time.monotonic() + 120
    while True:
        cost = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        tenants = {t["tenant"]: t for t in json.loads(cost.stdout)["tenants"]}
        measured = all(tenants[t.name]["used_cpu_cores"] is not None for t in blueprint.tenants)
        if measured or time.monotonic() > deadline:
            break
        time.sleep(10)
    unmeasured = sorted(t.name for t in blueprint.tenants if tenants[t.name]["used_cpu_cores"] is None)
    series = _query(prometheus, 'process_cpu_seconds_total{job="model-server"}')["data"]["result"]
    assert measured, (unmeasured, [(s["metric"].get("tenant"), s["value"]) for s in series])
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
    # the champion is untouched: a retrained version only ever becomes the challenger
    assert served["fraud-scorer"]["champion"] == "1" and served["fraud-scorer"]["challenger"] == retrain["version"]

    # the batch run's metrics went through the Pushgateway into Prometheus
    rows = _query(prometheus, 'mlplat_batch_rows{batch_job="demand-nightly"}')["data"]["result"]
    assert {r["metric"]["status"]: r["value"][1] for r in rows} == {"scored": "150", "rejected": "2"}

    # ten alerts in a row, straight to the trigger's receiver: one run, nine triggers skipped
    trigger = components["training-trigger"]["url"]
    answers = [_post(f"{trigger}/alerts", _notification(f"e2e-{index}")) for index in range(10)]
    assert [len(a["started"]) for a in answers] == [1] + [0] * 9
    assert [len(a["skipped"]) for a in answers] == [0] + [1] * 9
    storm_run = answers[0]["started"][0]["run_id"]
    assert {a["skipped"][0]["run_id"] for a in answers[1:]} == {storm_run}
    deadline = time.monotonic() + 180
    while not [e for e in audit.entries() if e.get("event") == "training-run" and e["run_id"] == storm_run]:
        assert time.monotonic() < deadline, "the storm's training run did not finish"
        time.sleep(1)
    # never two runs of a model at once: every run started after the previous one finished
    events = [e for e in audit.entries() if e.get("event") in ("training-trigger", "training-run")]
    going = 0
    for event in events:
        if event.get("decision") == "started":
            going += 1
        elif event["event"] == "training-run":
            going -= 1
        assert going <= 1, events

    # tear down: SIGTERM, and nothing is left running
    pids = [c["pid"] for c in components.values()]
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=60)
    deadline = time.monotonic() + 15
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [p for p in pids if alive(p)] == []
    assert not (root / "standalone.json").exists()


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _notification(fingerprint: str) -> dict:
    """An Alertmanager webhook notification (format 4) for fraud-scorer's drift alert."""
    labels = {"alertname": "ModelFeatureDrift", "tenant": "fraud", "model": "fraud-scorer", "feature": "amount"}
    alert = {"status": "firing", "labels": labels, "annotations": {}, "startsAt": "", "fingerprint": fingerprint}
    return {"version": "4", "status": "firing", "receiver": "webhook-modelfeaturedrift", "alerts": [alert]}


@pytest.fixture
def foundation_offset(tmp_path):
    with claimed_offset("foundation", tmp_path) as offset:
        yield offset


def test_registry_data_survives_a_restart(tmp_path, foundation_offset):
    from mlflow.tracking import MlflowClient

    from services.registry.access import ADMIN
    from services.registry.credentials import acting_as, credentials_file, read_credentials, standalone_credentials_dir
    from tests.services.mlflow_fixtures import register_iris

    root = tmp_path / "platform"
    offset = foundation_offset
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
            with acting_as(read_credentials(credentials_file(standalone_credentials_dir(root), ADMIN))):
                if attempt == 0:
                    versions.append(register_iris(mlflow_url, "persisted", alias=None, tags={"owner": "ana"}))
                else:
                    kept = MlflowClient(mlflow_url).get_model_version("persisted", versions[0])
                    assert kept.tags["owner"] == "ana" and kept.run_id
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(timeout=60)
