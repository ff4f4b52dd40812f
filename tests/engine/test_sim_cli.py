"""`mlplat up --target sim`, `mlplat status --target sim` and `mlplat down --target sim`, as a user runs them:
a cluster of its own, the real `pulumi up`, a status table, and a down that leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from blueprints import load
from services.engine import sim
from tests.engine.conftest import NODE, REPORT, timed

ROOT = Path(__file__).resolve().parents[2]


def _mlplat(*args: str, root: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "services.cli", *args, "--root", str(root)]
    env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": "engine-tests"}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_up_status_down_on_a_sim_cluster_of_its_own(bin_dir, tmp_path):
    size = ["--node-cpus", str(NODE.cpus), "--node-memory", str(NODE.memory_bytes)]
    up, seconds = timed(lambda: _mlplat("up", "--target", "sim", "--blueprint", "foundation", *size, root=tmp_path))
    layout = sim.SimLayout(tmp_path.resolve() / "sim")
    records = json.loads(layout.state_file.read_text())["processes"] if layout.state_file.exists() else []
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "pulumi up: stack dev, blueprint foundation, context kind-mlops" in up.stdout
        assert not (ROOT / "Pulumi.dev.yaml").read_text().count("kubeconfig")  # sim config stays in its folder
        status = _mlplat("status", "--target", "sim", "--json", root=tmp_path)
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert {p["name"] for p in report["processes"]} >= set(sim.CONTROL_PLANE_BINARIES)
        assert all(p["healthy"] for p in report["processes"])
        iris = next(w for w in report["workloads"] if w["name"] == "iris")
        replicas = load("foundation").tenants[0].models[0].replicas.min  # every replica Ready (kwok's pods)
        assert (iris["namespace"], iris["ready"], iris["desired"]) == ("data-science", replicas, replicas)
    finally:
        down = _mlplat("down", "--target", "sim", root=tmp_path)
    REPORT["mlplat up --target sim (foundation)"] = {"seconds": seconds}
    assert down.returncode == 0, down.stdout + down.stderr
    assert "Resources:" in down.stdout and "deleted" in down.stdout  # pulumi destroy ran
    assert records and not any(sim.alive(record) for record in records)
    assert not layout.root.exists()
