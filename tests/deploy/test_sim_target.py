"""`mlplat up --target sim` decisions taken before anything starts: node size, fit, toolchain."""

from __future__ import annotations

import pytest

from services.cli import main
from services.engine import sim


def test_a_blueprint_that_would_stay_pending_on_a_node_that_size_stops_before_anything_starts(tmp_path, capsys):
    code = main(["up", "--target", "sim", "--blueprint", "enterprise", "--node-cpus", "2", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0
    assert "a 2-CPU node leaves 1.05 after kind's own pods" in err
    assert "--node-cpus 4 --node-memory 8Gi" in err
    assert not (tmp_path / "sim").exists()  # nothing was started


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--node-cpus", "0"], "--node-cpus 0: use 1 or more"), (["--node-memory", "lots"], "--node-memory 'lots'")],
)
def test_bad_node_sizes_name_the_flag_and_the_fix(tmp_path, capsys, flags, message):
    assert main(["up", "--target", "sim", "--blueprint", "foundation", *flags, "--root", str(tmp_path)]) != 0
    assert message in capsys.readouterr().err


def test_without_the_toolchain_the_sim_target_says_how_to_build_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    args = ["up", "--target", "sim", "--blueprint", "foundation", "--node-cpus", "4", "--node-memory", "8Gi"]
    assert main([*args, "--root", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert "not built yet: etcd" in err and "make toolchain" in err
    assert sim.running(sim.SimLayout(tmp_path / "sim")) is None
