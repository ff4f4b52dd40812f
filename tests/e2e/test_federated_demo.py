"""The demo's federated step on the standalone platform: a short federated run of the federated
blueprint's model, signed in as its tenant, registered, approved and promoted through the gate as the
gate's user, then served by the tenant's model server, whose answers on held-out rows are checked."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blueprints import load
from services.federated.demo import federated_demo
from services.promotion_gate.audit import AuditLog
from services.standalone.plan import plan
from services.standalone.supervisor import busy_ports
from tests.services.mlflow_fixtures import wait_http

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = "federated"


@pytest.fixture
def platform(tmp_path):
    root = tmp_path / "platform"
    offset = next(o for o in range(3000, 20000, 151) if not busy_ports(plan(load(BLUEPRINT), tmp_path, port_offset=o)))
    log = (tmp_path / "standalone.log").open("ab")
    command = [sys.executable, "-m", "services.cli", "standalone", "--blueprint", BLUEPRINT, "--root", str(root)]
    supervisor = subprocess.Popen([*command, "--port-offset", str(offset)], cwd=ROOT, stdout=log, stderr=log)
    started, state = time.monotonic(), root / "standalone.json"
    while not state.exists():
        if supervisor.poll() is not None or time.monotonic() - started > 180:
            supervisor.kill()
            pytest.fail(f"standalone did not come up:\n{(tmp_path / 'standalone.log').read_text()[-3000:]}")
        time.sleep(0.5)
    for component in json.loads(state.read_text())["components"]:
        wait_http(component["health"], 60)
    yield root
    supervisor.send_signal(signal.SIGTERM)
    supervisor.wait(timeout=60)


def test_the_demo_trains_gates_and_serves_the_federated_model(platform):
    lines: list[str] = []
    done = federated_demo(load(BLUEPRINT), platform, say=lines.append)
    print("\n".join(lines))
    assert [d["model"] for d in done] == ["activity"]
    assert done[0]["served_accuracy"] >= 0.85  # the model server's answers on the server's held-out rows
    assert sum("devices answered (2 dropped mid-round)" in line for line in lines) == 5  # 10% of 20, each round
    decisions = [
        e for e in AuditLog(platform / "audit" / "promotions.jsonl").entries() if e.get("actor") == "mlplat fl"
    ]
    assert [(e["model"], e["alias"], e["decision"]) for e in decisions] == [("activity", "champion", "pass")]
