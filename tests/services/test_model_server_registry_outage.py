"""The real model server while its registry is stopped: it keeps answering with the loaded version,
reports itself degraded, retries with growing delays, and recovers (following alias moves again)
once the registry is back. The registry here is its own MLflow process, stopped and restarted on
the same port and data, so no other test sees the outage."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import httpx
import pytest
from mlflow.tracking import MlflowClient

from tests.services.mlflow_fixtures import free_port, register_iris, start_mlflow, start_model_server

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
POLL_INTERVAL = 4  # retries back off 1, 2, 4 s: long enough to see the backoff, short enough to recover


@dataclass
class Outage:
    loaded: str = ""
    up_before: bool = False
    statuses: list[int] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    ready_during: list[int] = field(default_factory=list)
    degraded_metrics: str = ""
    retry_waits: list[float] = field(default_factory=list)
    up_after: bool = False
    moved_to: str = ""
    served_after_move: set[str] = field(default_factory=set)


def _metric(client: httpx.Client, line: str) -> bool:
    return line in client.get("/metrics").text


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def outage(tmp_path_factory) -> Outage:
    root, port = tmp_path_factory.mktemp("outage"), free_port()
    registry = start_mlflow(root / "mlflow", port=port)
    server = None
    seen = Outage()
    try:
        seen.loaded = register_iris(registry.uri, "outage", "champion")
        server = start_model_server(
            registry.uri, ["models:/outage@champion", "--poll-interval", str(POLL_INTERVAL)], root / "serving"
        )
        with httpx.Client(base_url=server.url, timeout=10) as client:
            seen.up_before = _metric(client, "mlplat_registry_up 1.0")

            registry.stop()  # the outage starts

            def degraded_and_backed_off() -> bool:
                response = client.post("/invocations", json={"instances": ROWS})
                seen.statuses.append(response.status_code)
                seen.versions.add(response.headers.get("x-model-version", ""))
                seen.ready_during.append(client.get("/v2/health/ready").status_code)
                waits = [float(w) for w in re.findall(r"next try in ([\d.]+)s", server.log_text())]
                return waits[:3] == [1.0, 2.0, 4.0] and _metric(client, "mlplat_registry_up 0.0")

            _until(degraded_and_backed_off, 60, "the server did not report degraded and back off to the interval")
            seen.degraded_metrics = client.get("/metrics").text
            seen.retry_waits = [float(w) for w in re.findall(r"next try in ([\d.]+)s", server.log_text())]

            registry = start_mlflow(root / "mlflow", port=port)  # the same data, back on the same address
            _until(lambda: _metric(client, "mlplat_registry_up 1.0"), 60, "the server did not see the registry return")
            seen.up_after = True

            seen.moved_to = register_iris(registry.uri, "outage", alias=None, C=0.5)
            MlflowClient(registry.uri).set_registered_model_alias("outage", "champion", seen.moved_to)

            def moved() -> bool:
                response = client.post("/invocations", json={"instances": ROWS})
                seen.served_after_move.add(response.headers.get("x-model-version", ""))
                return response.headers.get("x-model-version") == seen.moved_to

            _until(moved, 60, "the server did not follow the alias move after the outage")
    finally:
        if server is not None:
            server.stop()
        registry.stop()
    return seen


def test_while_the_registry_is_down_every_request_is_answered_by_the_loaded_version(outage):
    assert outage.statuses and set(outage.statuses) == {200}
    assert outage.versions == {outage.loaded}


def test_the_server_reports_itself_degraded_in_metrics_but_stays_ready(outage):
    assert outage.up_before
    assert "mlplat_registry_up 0.0" in outage.degraded_metrics
    assert f'mlplat_model_info{{model="outage",variant="champion",version="{outage.loaded}"}} 1.0' in (
        outage.degraded_metrics
    )
    assert set(outage.ready_during) == {200}  # pulling it out of rotation would turn a registry outage into an outage


def test_the_server_retries_with_growing_delays_capped_by_the_poll_interval(outage):
    assert outage.retry_waits[:3] == [1.0, 2.0, 4.0]
    assert max(outage.retry_waits) == POLL_INTERVAL


def test_when_the_registry_returns_the_server_is_healthy_and_follows_alias_moves_again(outage):
    assert outage.up_after
    assert outage.moved_to in outage.served_after_move
