"""The demo's federated step on the standalone platform: a short federated run of the federated
blueprint's model, signed in as its tenant, registered, approved and promoted through the gate as the
gate's user, then served by the tenant's model server, whose answers on held-out rows are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueprints import load
from services.federated.demo import federated_demo
from services.promotion_gate.audit import AuditLog
from tests.e2e.standalone import running_standalone

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = "federated"


@pytest.fixture
def platform(tmp_path):
    with running_standalone(BLUEPRINT, tmp_path) as (root, _, _):
        yield root


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
