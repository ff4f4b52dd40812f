"""The feature benchmark still runs end to end (a benchmark nobody runs rots: this one once failed
on its own set-up). One short round: this checks that it measures, with no errors and the same answer
from both servers, never how fast; the figures come from `make bench` (benchmarks/README.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_feature_benchmark_measures_both_servers_without_errors():
    if shutil.which("wrk") is None:
        pytest.fail("the benchmark needs wrk: apt-get install wrk (.ci/run installs it)", pytrace=False)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "features.py"), "--rounds", "1", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert re.search(r"flower \d+: Feast returns \{.+\}; the model server predicts \[\d\] from its key alone \(same\)",
                     done.stdout), done.stdout  # fmt: skip
    rows = re.findall(r"^\((a|b)\) (feast|mlplat) serve\s+.+?\s+(\d+)\s+[\d.]+\s+[\d.]+(  ERRORS)?$", done.stdout, re.M)
    assert [(server, errors) for server, _, _, errors in rows] == [("a", ""), ("b", "")], done.stdout
    assert all(int(rps) > 0 for _, _, rps, _ in rows)
