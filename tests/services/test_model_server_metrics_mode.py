"""The worker count alone decides how the model server collects /metrics, whatever its environment.

A process that imported Feast carries PROMETHEUS_MULTIPROC_DIR (Feast sets it on import), and so does
every child it starts: the standalone supervisor started from such a process once gave every model
server prometheus-client's multiprocess mode, whose /metrics lacks the process_* series that cost
showback measures usage with (found by CI's make test, where the test process had imported Feast).
"""

from __future__ import annotations

import time

import httpx
import pytest

from services.monitoring.metric_names import REQUESTS
from tests.services.mlflow_fixtures import register_iris, start_model_server


@pytest.fixture(scope="module")
def iris(mlflow_server):
    register_iris(mlflow_server.uri, "iris-metrics-mode", "champion")
    return "models:/iris-metrics-mode@champion"


def _scrape(server) -> str:
    deadline = time.monotonic() + 60
    while True:  # with several workers, /v2/health/ready was one worker's answer: the other may still load
        answer = httpx.post(f"{server.url}/invocations", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}, timeout=30)
        if answer.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answer.status_code == 200, answer.text
    return httpx.get(f"{server.url}/metrics", timeout=10).text


def _series(exposition: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in exposition.splitlines() if line and not line.startswith("#")}


@pytest.mark.parametrize("variable", ["PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"])
def test_one_worker_keeps_process_metrics_under_an_inherited_multiprocess_folder(
    mlflow_server, iris, tmp_path, monkeypatch, variable
):
    stranger = tmp_path / "someone-elses-metrics"
    stranger.mkdir()
    monkeypatch.setenv(variable, str(stranger))
    server = start_model_server(mlflow_server.uri, [iris], tmp_path / "one")
    try:
        series = _series(_scrape(server))
    finally:
        server.stop()
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= series, sorted(series)
    assert REQUESTS in series
    assert list(stranger.iterdir()) == []  # nothing written into the inherited folder


def test_several_workers_sum_into_a_folder_of_their_own(mlflow_server, iris, tmp_path, monkeypatch):
    stranger = tmp_path / "someone-elses-metrics"
    stranger.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(stranger))
    server = start_model_server(mlflow_server.uri, [iris, "--workers", "2"], tmp_path / "two")
    try:
        series = _series(_scrape(server))
    finally:
        server.stop()
    assert REQUESTS in series, sorted(series)  # the workers' files, summed
    assert "process_cpu_seconds_total" not in series  # multiprocess mode: no per-process series
    assert list(stranger.iterdir()) == []
