"""The runtime as the platform starts it: a subprocess reading a RunSpec, printing events, writing the model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from services.federated.events import Finished, RoundReport, Started, from_line
from tests.federated.runtime.conftest import small_spec


def test_the_runtime_prints_one_event_per_line_and_saves_the_model(tmp_path):
    spec = small_spec(rounds=2)
    done = subprocess.run(
        [sys.executable, "-I", "-m", "services.federated.flower.runtime", "--spec", "-", "--out", str(tmp_path)],
        input=spec.to_json(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = [from_line(line) for line in done.stdout.splitlines()]
    assert [type(e) for e in events] == [Started, RoundReport, RoundReport, Finished]
    finished = events[-1]
    arrays = np.load(finished.model_path)
    assert arrays["weights"].shape == (20, 10) and arrays["bias"].shape == (10,)
    assert finished.data_digest.startswith("sha256:") and finished.peak_rss_bytes > 0
    assert events[0].num_shares == 7 and events[0].threshold == 4  # SecAgg+ sized for 3 of 10 dropping
