"""The training trigger's decisions, with a fake registry and launcher: one run per model at a time, every
trigger audited with its alert's fingerprint and run, versions only ever to the challenger through the
gate, failures reported and changing nothing, schedules, and malformed webhook payloads refused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from blueprints import load
from services.promotion_gate.audit import AuditLog
from services.training.alerts import PayloadError, parse_alertmanager
from services.training.command import RUN_ID_ENV, TRIGGER_ENV, train_args
from services.training.launcher import KubernetesJobLauncher
from services.training.service import TriggerApp, TriggerService
from services.training.targets import targets_from_json, targets_to_json, training_targets

TARGETS = training_targets(load("foundation"))  # data-science/iris: drift and a weekly schedule
IRIS = TARGETS[0]


class FakeHandle:
    def __init__(self, run_id: str):
        self.where, self.state, self.stopped = f"log-{run_id}", None, False

    def poll(self):
        return self.state

    def stop(self):
        self.stopped = True


class FakeLauncher:
    def __init__(self):
        self.launched: list[FakeHandle] = []
        self.active_run: str | None = None

    def launch(self, target, run_id, trigger):
        self.launched.append(FakeHandle(run_id))
        return self.launched[-1]

    def active(self, target):
        return self.active_run


class FakeRegistry:
    def __init__(self, version: str | None = "7", gate_passes: bool = True):
        self.runs: list[str] = []
        self.failed: list[str] = []
        self.promoted: list[tuple[str, str, str]] = []
        self.version, self.gate_passes = version, gate_passes

    def start_run(self, target, trigger, fingerprint):
        self.runs.append(f"run-{len(self.runs) + 1}")
        return self.runs[-1]

    def fail_run(self, run_id):
        self.failed.append(run_id)

    def version_of(self, target, run_id):
        return self.version

    def promote(self, target, version):
        self.promoted.append((target.model, version, target.challenger_alias))
        return self.gate_passes


class Clock:
    def __init__(self, now: float = 1_795_000_000.0):  # 2026-11-18, a Wednesday
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def trigger(tmp_path):
    registry, launcher, clock = FakeRegistry(), FakeLauncher(), Clock()
    service = TriggerService(TARGETS, launcher, registry, AuditLog(tmp_path / "audit.jsonl"), clock=clock)
    return service, registry, launcher, clock


def _drift(fingerprint: str, *, model: str = "iris", status: str = "firing", name: str = "ModelFeatureDrift"):
    return {
        "status": status,
        "labels": {"alertname": name, "tenant": "data-science", "model": model, "feature": "petal_width"},
        "annotations": {},
        "startsAt": "2026-11-25T03:00:00Z",
        "fingerprint": fingerprint,
    }


def _payload(*alerts) -> bytes:
    return json.dumps({"version": "4", "status": "firing", "receiver": "training", "alerts": list(alerts)}).encode()


def test_ten_alerts_in_a_row_start_one_run_and_each_is_audited_with_its_fingerprint(trigger, tmp_path):
    service, registry, launcher, _ = trigger
    for index in range(10):
        service.on_alerts(parse_alertmanager(_payload(_drift(f"fp{index}"))))
    assert len(launcher.launched) == 1 and registry.runs == ["run-1"]
    entries = AuditLog(tmp_path / "audit.jsonl").entries()
    assert [(e["fingerprint"], e["decision"], e["run_id"]) for e in entries] == [("fp0", "started", "run-1")] + [
        (f"fp{i}", "skipped", "run-1") for i in range(1, 10)
    ]
    assert all(e["event"] == "training-trigger" and e["alertname"] == "ModelFeatureDrift" for e in entries)


def test_a_finished_run_goes_through_the_gate_to_the_challenger_only(trigger, tmp_path):
    service, registry, launcher, _ = trigger
    service.trigger(IRIS, "drift", fingerprint="fp")
    launcher.launched[0].state = True
    service.check_runs()
    assert registry.promoted == [("iris", "7", "challenger")]
    last = AuditLog(tmp_path / "audit.jsonl").entries()[-1]
    assert (last["event"], last["outcome"], last["version"], last["gate"], last["alias"]) == (
        "training-run",
        "succeeded",
        "7",
        "pass",
        "challenger",
    )
    # the next trigger starts a new run: the first one is over
    assert service.trigger(IRIS, "drift", fingerprint="fp2")["decision"] == "started"


def test_a_version_the_gate_refuses_moves_nothing_and_is_recorded(tmp_path):
    registry, launcher = FakeRegistry(gate_passes=False), FakeLauncher()
    service = TriggerService(TARGETS, launcher, registry, AuditLog(tmp_path / "audit.jsonl"))
    service.trigger(IRIS, "drift")
    launcher.launched[0].state = True
    service.check_runs()
    last = AuditLog(tmp_path / "audit.jsonl").entries()[-1]
    assert (last["outcome"], last["gate"], last["alias"]) == ("succeeded", "fail", None)
    assert _metric(service, 'mlplat_training_promotions_total{decision="fail"') == 1


def _metric(service, prefix: str) -> float:
    from prometheus_client import generate_latest

    for line in generate_latest(service.metrics.registry).decode().splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {prefix} in the trigger's metrics")


def test_a_failed_run_is_reported_promotes_nothing_and_frees_the_model(trigger, tmp_path):
    service, registry, launcher, _ = trigger
    service.trigger(IRIS, "drift", fingerprint="fp")
    launcher.launched[0].state = False
    service.check_runs()
    assert registry.promoted == [] and registry.failed == ["run-1"]
    last = AuditLog(tmp_path / "audit.jsonl").entries()[-1]
    assert (last["outcome"], last["reason"], last["run_id"]) == ("failed", "the run failed", "run-1")
    assert _metric(service, "mlplat_training_last_run_succeeded{") == 0
    assert _metric(service, 'mlplat_training_runs_total{model="iris",outcome="failed"') == 1


def test_a_run_that_registered_no_version_counts_as_failed(tmp_path):
    registry, launcher = FakeRegistry(version=None), FakeLauncher()
    service = TriggerService(TARGETS, launcher, registry, AuditLog(tmp_path / "audit.jsonl"))
    service.trigger(IRIS, "drift")
    launcher.launched[0].state = True
    service.check_runs()
    assert registry.promoted == [] and AuditLog(tmp_path / "audit.jsonl").entries()[-1]["outcome"] == "failed"


def test_a_run_over_its_timeout_is_stopped_and_failed(trigger):
    service, registry, launcher, clock = trigger
    service.trigger(IRIS, "drift")
    clock.now += IRIS.timeout_seconds + 1
    service.check_runs()
    assert launcher.launched[0].stopped and registry.failed == ["run-1"]


def test_a_run_the_launcher_still_sees_blocks_a_new_one(trigger):
    """A restarted trigger in the cluster forgot its runs; the Jobs it started are still there."""
    service, registry, launcher, _ = trigger
    launcher.active_run = "run-from-before-restart"
    outcome = service.trigger(IRIS, "drift", fingerprint="fp")
    assert (outcome["decision"], outcome["run_id"]) == ("skipped", "run-from-before-restart")
    assert registry.runs == []


@pytest.mark.parametrize(
    "alert",
    [
        _drift("fp", status="resolved"),
        _drift("fp", name="ModelServerDown"),
        _drift("fp", model="no-such-model"),
    ],
    ids=["resolved", "another-alert", "a-model-without-training"],
)
def test_only_firing_drift_alerts_of_trained_models_trigger(trigger, alert):
    service, registry, _, _ = trigger
    summary = service.on_alerts(parse_alertmanager(_payload(alert)))
    assert summary == {"started": [], "skipped": [], "ignored": 1} and registry.runs == []


def test_a_model_trained_on_schedule_only_ignores_drift(tmp_path):
    scheduled_only = [t.__class__(**{**t.__dict__, "triggers": ("schedule",)}) for t in TARGETS]
    service = TriggerService(scheduled_only, FakeLauncher(), FakeRegistry(), AuditLog(tmp_path / "a.jsonl"))
    assert service.on_alerts(parse_alertmanager(_payload(_drift("fp"))))["ignored"] == 1


def test_the_schedule_starts_a_run_when_due_and_not_before(trigger, tmp_path):
    from datetime import UTC, datetime

    service, registry, _, clock = trigger  # iris: "0 4 * * 0", Sundays at 04:00 UTC
    sunday = datetime(2026, 11, 22, 4, 0, tzinfo=UTC).timestamp()
    service.run_schedules(now=sunday - 60)
    assert registry.runs == []
    service.run_schedules(now=sunday + 5)
    service.run_schedules(now=sunday + 30)  # same minute: already started, next is a week later
    assert registry.runs == ["run-1"]
    entry = AuditLog(tmp_path / "audit.jsonl").entries()[-1]
    assert (entry["trigger"], entry["fingerprint"], entry["decision"]) == ("schedule", None, "started")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", None),
        (b"[]", None),
        (json.dumps({"version": "3", "alerts": []}).encode(), "version"),
        (json.dumps({"version": "4", "alerts": []}).encode(), "alerts"),
        (json.dumps({"version": "4", "alerts": [{"status": "burning"}]}).encode(), "alerts[0].status"),
        (
            json.dumps({"version": "4", "alerts": [{"status": "firing", "labels": {}}]}).encode(),
            "alerts[0].labels.alertname",
        ),
        (
            json.dumps({"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "x"}}]}).encode(),
            "alerts[0].fingerprint",
        ),
    ],
)
def test_a_malformed_payload_names_the_field(body, field):
    with pytest.raises(PayloadError) as caught:
        parse_alertmanager(body)
    assert caught.value.field == field


@pytest.fixture
def app(trigger):
    app = TriggerApp(trigger[0], interval=3600)
    yield app
    app.close()


async def _post(app, path: str, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trigger") as client:
        return await client.post(path, content=body)


def test_the_receiver_answers_a_malformed_payload_with_400_and_a_json_error(app):
    import asyncio

    response = asyncio.run(_post(app, "/alerts", json.dumps({"version": "4", "alerts": [{"status": "x"}]}).encode()))
    assert response.status_code == 400
    assert response.json() == {
        "error": "alerts[0].status must be 'firing' or 'resolved', got 'x'",
        "field": "alerts[0].status",
    }
    assert asyncio.run(_post(app, "/nope", b"{}")).status_code == 404


def test_the_receiver_starts_a_run_for_a_drift_notification(app, trigger):
    import asyncio

    response = asyncio.run(_post(app, "/alerts", _payload(_drift("fp1"), _drift("fp2"))))
    assert response.status_code == 200
    body = response.json()
    assert [e["fingerprint"] for e in body["started"]] == ["fp1"]
    assert [e["fingerprint"] for e in body["skipped"]] == ["fp2"]


def test_targets_come_from_the_blueprint_and_survive_json():
    tenant = load("foundation").tenants[0]
    assert IRIS.args == tuple(train_args(tenant.name, tenant.models[0]))
    assert (IRIS.namespace, IRIS.job_template, IRIS.challenger_alias) == ("data-science", "iris-training", "challenger")
    assert targets_from_json(targets_to_json(TARGETS)) == TARGETS


def test_the_training_command_is_accepted_by_the_real_cli():
    from services.cli import build_parser

    parsed = build_parser().parse_args(list(IRIS.args))
    assert (parsed.model, parsed.tenant, parsed.entry_point) == ("iris", "data-science", "services.training.iris:train")


# --- the cluster launcher, against a stand-in API server ----------------------------------------

TEMPLATE = {
    "spec": {
        "suspend": True,
        "jobTemplate": {
            "metadata": {"labels": {"app.kubernetes.io/component": "training", "platform.mlops/model": "iris"}},
            "spec": {
                "backoffLimit": 0,
                "template": {"spec": {"containers": [{"name": "train", "args": list(IRIS.args), "env": []}]}},
            },
        },
    }
}


@pytest.fixture
def api():
    seen: list[tuple[str, str, dict | None]] = []
    jobs: dict[str, dict] = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - the stdlib's name
            seen.append(("GET", self.path, None))
            if self.path.endswith("/cronjobs/iris-training"):
                self._answer(200, TEMPLATE)
            elif "/jobs?" in self.path:
                self._answer(200, {"items": list(jobs.values())})
            elif "/jobs/" in self.path:
                self._answer(200, jobs[self.path.rsplit("/", 1)[1]])
            else:
                self._answer(404, {"message": "not found"})

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append(("POST", self.path, body))
            created = {**body, "metadata": {**body["metadata"], "name": "iris-training-x1"}, "status": {"active": 1}}
            jobs["iris-training-x1"] = created
            self._answer(201, created)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen, jobs
    server.shutdown()


def test_the_cluster_launcher_creates_a_job_from_the_template_with_the_run_in_its_environment(api):
    url, seen, jobs = api
    launcher = KubernetesJobLauncher(url, token="t")
    handle = launcher.launch(IRIS, "run-1", "drift")
    method, path, job = seen[-1]
    assert (method, path) == ("POST", "/apis/batch/v1/namespaces/data-science/jobs")
    assert job["metadata"]["generateName"] == "iris-training-"
    assert job["metadata"]["labels"]["platform.mlops/model"] == "iris"
    assert job["metadata"]["annotations"]["platform.mlops/mlflow-run"] == "run-1"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == list(IRIS.args)  # the template's command, untouched
    assert {e["name"]: e["value"] for e in container["env"]} == {RUN_ID_ENV: "run-1", TRIGGER_ENV: "drift"}
    # a Job still going is seen, even by a trigger that did not start it
    assert handle.poll() is None and launcher.active(IRIS) == "run-1"
    jobs["iris-training-x1"]["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    handle._last_check = 0  # skip the 5-second courtesy interval between API reads
    assert handle.poll() is True and launcher.active(IRIS) is None


def test_a_trigger_the_registry_cannot_take_is_recorded_and_answered_with_503(tmp_path):
    import asyncio

    class DownRegistry(FakeRegistry):
        def start_run(self, target, trigger, fingerprint):
            raise ConnectionError("MLflow is not reachable")

    service = TriggerService(TARGETS, FakeLauncher(), DownRegistry(), AuditLog(tmp_path / "audit.jsonl"))
    app = TriggerApp(service, interval=3600)
    try:
        response = asyncio.run(_post(app, "/alerts", _payload(_drift("fp-down"))))
    finally:
        app.close()
    assert response.status_code == 503 and "MLflow is not reachable" in response.json()["error"]
    (entry,) = AuditLog(tmp_path / "audit.jsonl").entries()
    assert (entry["fingerprint"], entry["decision"]) == ("fp-down", "error")
