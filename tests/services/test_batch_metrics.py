"""A batch run's metrics reach a real Pushgateway, a real Prometheus scrapes them with the labels the
rules expect, and the batch alerts fire from them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from services.monitoring import alert_rules, prometheus_config
from services.monitoring.config import RULES_FILE
from tests.services.mlflow_fixtures import (
    IRIS_COLUMNS,
    free_port,
    iris_data,
    register_iris,
    stop_group,
    wait_http,
)
from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]


def _start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def monitoring(tmp_path):
    """A Pushgateway and a Prometheus that scrapes it every second and evaluates the platform's rules."""
    gateway_port, prometheus_port = free_port(), free_port()
    gateway = _start(
        [
            require("pushgateway"),
            f"--web.listen-address=127.0.0.1:{gateway_port}",
            # Debian's build persists to /var/lib/prometheus/pushgateway.data unless told otherwise: a test's
            # gateway must start empty, not with what an earlier run pushed
            f"--persistence.file={tmp_path / 'pushgateway.data'}",
        ],
        tmp_path / "pushgateway.log",
    )
    config = prometheus_config(
        "static", alertmanagers=[], rules_dir=str(tmp_path), pushgateway=f"127.0.0.1:{gateway_port}"
    )
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}  # test-only: seconds, not minutes
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    (tmp_path / RULES_FILE).write_text(yaml.safe_dump(alert_rules()))
    prometheus = _start(
        [
            require("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{gateway_port}/-/ready", 30, gateway)
        wait_http(f"http://127.0.0.1:{prometheus_port}/-/ready", 60, prometheus)
        yield f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{prometheus_port}"
    finally:
        stop_group(prometheus)
        stop_group(gateway)


def _query(prometheus: str, expr: str) -> list[dict]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}") as response:
        return json.load(response)["data"]["result"]


def _eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _batch(uri: str, source: Path, output: Path, gateway: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "batch", "score", "models:/pushed-iris@champion"]
        + ["--input", str(source), "--output", str(output), "--pushgateway", gateway]
        + ["--job-name", "iris-nightly", "--tenant", "data-science", "--schedule", "0 3 * * *", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "MLPLAT_MODEL_CACHE": str(output.parent / "c")},
        check=False,
    )


def test_a_batch_runs_metrics_reach_prometheus_through_the_pushgateway(mlflow_server, monitoring, tmp_path):
    gateway, prometheus = monitoring
    register_iris(mlflow_server.uri, "pushed-iris", alias="champion")
    x, _ = iris_data()
    lines = [",".join(f"{v:g}" for v in row) for row in x] + ["5.1,abc,1.4,0.2"]
    source = tmp_path / "in.csv"
    source.write_text("\n".join([",".join(IRIS_COLUMNS), *lines]) + "\n")

    run = _batch(mlflow_server.uri, source, tmp_path / "scores.parquet", gateway)
    assert run.returncode == 0, run.stdout + run.stderr
    with urllib.request.urlopen(f"{gateway}/metrics") as response:
        pushed = response.read().decode()
    assert 'mlplat_batch_rows{batch_job="iris-nightly",instance="",job="mlplat-batch",model="pushed-iris",' in pushed

    rows = _eventually(lambda: _query(prometheus, 'mlplat_batch_rows{batch_job="iris-nightly"}'))
    by_status = {r["metric"]["status"]: float(r["value"][1]) for r in rows}
    assert by_status == {"scored": 150.0, "rejected": 1.0}
    labels = rows[0]["metric"]
    assert (labels["job"], labels["tenant"], labels["model"]) == ("mlplat-batch", "data-science", "pushed-iris")
    assert _query(prometheus, "mlplat_batch_schedule_interval_seconds")[0]["value"][1] == "86400"
    features = {r["metric"]["feature"] for r in _query(prometheus, "mlplat_batch_feature_drift_psi")}
    assert features == set(IRIS_COLUMNS)
    (success_series,) = _query(prometheus, "mlplat_batch_last_success_timestamp_seconds")
    success = float(success_series["value"][1])
    assert abs(success - time.time()) < 120

    # a run over its reject ratio fails: the failure is pushed, the last success time stays, alerts fire
    failed = _batch(mlflow_server.uri, source, tmp_path / "scores.parquet", gateway, "--max-reject-ratio", "0.001")
    assert failed.returncode == 1 and "above the maximum reject ratio" in failed.stderr

    def firing() -> set[str]:
        with urllib.request.urlopen(f"{prometheus}/api/v1/alerts") as response:
            alerts = json.load(response)["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    assert _eventually(lambda: {"BatchJobFailed", "BatchRejectRatioHigh"} <= firing()), firing()
    kept = float(_query(prometheus, "mlplat_batch_last_success_timestamp_seconds")[0]["value"][1])
    assert kept == success
