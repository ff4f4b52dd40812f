"""The training trigger: drift alerts and schedules in, one training run per model at a time out; each
finished run's version goes through the promotion gate to the challenger alias, and nowhere else.

Flow, for one model:
1. a trigger arrives: an Alertmanager notification for the drift alert (POST /alerts), or the model's
   training schedule comes due;
2. under one lock: if a run of that model is going (known to the trigger, or visible to the launcher,
   e.g. a Job), the trigger is recorded as skipped, naming that run; otherwise an MLflow run is
   created and launched (launcher.py), and the trigger is recorded as started, naming it. Every
   trigger is an audit entry, with the alert's fingerprint when an alert caused it;
3. a worker polls running runs. A run that succeeded registered a version tagged with its run id;
   the gate (services/promotion_gate/gate.py) evaluates it for the challenger alias and moves that
   alias only on a pass. A run that failed, or overran its timeout, is marked FAILED in MLflow,
   recorded, and reported by `mlplat_training_last_run_succeeded 0` (the TrainingRunFailed alert).
   Neither a failed run nor a refused version moves any alias: what is served does not change.

The MLflow side sits behind `Registry`, so the decisions above are tested with a fake registry and
launcher, and the real ones are tested against a real MLflow server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from blueprints.cron import parse_cron
from services.monitoring import metric_names as m
from services.monitoring.rules import ALERT_DRIFT
from services.promotion_gate.audit import AuditLog
from services.training.alerts import Alert, PayloadError, parse_alertmanager
from services.training.launcher import Launcher, LaunchError, RunHandle
from services.training.targets import TrainingTarget

__all__ = ["Registry", "MlflowRegistry", "TriggerService", "TriggerApp", "ACTOR", "DRIFT_ALERTS"]

log = logging.getLogger("mlplat.training")
ACTOR = "training-trigger"
DRIFT_ALERTS = frozenset({ALERT_DRIFT})  # alert names that mean "this model's inputs drifted"


class Registry(Protocol):
    """What the trigger needs from MLflow and the gate."""

    def start_run(self, target: TrainingTarget, trigger: str, fingerprint: str | None) -> str: ...

    def fail_run(self, run_id: str) -> None: ...

    def version_of(self, target: TrainingTarget, run_id: str) -> str | None: ...

    def promote(self, target: TrainingTarget, version: str) -> bool: ...


class MlflowRegistry:
    """The real registry: MLflow runs and versions, and the promotion gate with its rules and audit log."""

    def __init__(self, client, rules, audit: AuditLog):
        self.client, self.rules, self.audit = client, rules, audit

    def start_run(self, target: TrainingTarget, trigger: str, fingerprint: str | None) -> str:
        from services.training.runner import TRIGGER_TAG, experiment_name

        name = experiment_name(target.tenant, target.model)
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        tags = {TRIGGER_TAG: trigger, "mlflow.runName": f"{target.model}-{trigger}-{int(time.time())}"}
        if fingerprint:
            tags["platform.mlops/alert-fingerprint"] = fingerprint
        return self.client.create_run(experiment_id, tags=tags).info.run_id

    def fail_run(self, run_id: str) -> None:
        if self.client.get_run(run_id).info.status == "RUNNING":  # killed before MLflow could record it
            self.client.set_terminated(run_id, "FAILED")

    def version_of(self, target: TrainingTarget, run_id: str) -> str | None:
        from services.training.runner import TRAINING_RUN_TAG

        for version in self.client.search_model_versions(f"name='{target.model}'"):
            if (version.tags or {}).get(TRAINING_RUN_TAG) == run_id:
                return str(version.version)
        return None

    def promote(self, target: TrainingTarget, version: str) -> bool:
        from services.promotion_gate.gate import promote

        decision = promote(
            self.client, self.rules, self.audit, target.model, version, target.challenger_alias, actor=ACTOR
        )
        log.info("%s version %s -> @%s: %s", target.label, version, target.challenger_alias, decision.passed)
        return decision.passed


@dataclass
class _Run:
    run_id: str
    handle: RunHandle
    trigger: str
    started: float


@dataclass
class _Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        by = ("tenant", "model")
        self.triggers = Counter(
            m.TRAINING_TRIGGERS, "training triggers", (*by, "trigger", "decision"), registry=self.registry
        )
        self.runs = Counter(m.TRAINING_RUNS, "finished training runs", (*by, "outcome"), registry=self.registry)
        self.succeeded = Gauge(m.TRAINING_LAST_RUN_SUCCEEDED, "1 if the last run succeeded", by, registry=self.registry)
        self.in_progress = Gauge(m.TRAINING_IN_PROGRESS, "training runs going now", by, registry=self.registry)
        self.promotions = Counter(
            m.TRAINING_PROMOTIONS, "gate decisions on retrained versions", (*by, "decision"), registry=self.registry
        )


class TriggerService:
    def __init__(
        self,
        targets: list[TrainingTarget],
        launcher: Launcher,
        registry: Registry,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
    ):
        self.targets = {t.key: t for t in targets}
        self.launcher, self.registry, self.audit, self.clock = launcher, registry, audit, clock
        self.metrics = _Metrics()
        self._running: dict[tuple[str, str], _Run] = {}
        self._lock = threading.Lock()
        self._next: dict[tuple[str, str], datetime] = {}
        now = datetime.fromtimestamp(clock(), UTC).replace(tzinfo=None)
        for target in targets:  # every series exists from the start (at 0), so dashboards show "none yet"
            self.metrics.in_progress.labels(target.tenant, target.model).set(0)
            for outcome in ("succeeded", "failed"):
                self.metrics.runs.labels(target.tenant, target.model, outcome)
            for decision in ("pass", "fail"):
                self.metrics.promotions.labels(target.tenant, target.model, decision)
            if "schedule" in target.triggers and target.schedule:
                self._next[target.key] = parse_cron(target.schedule).next_after(now)

    # --- triggers ---------------------------------------------------------------------------------

    def on_alerts(self, alerts: list[Alert]) -> dict[str, Any]:
        """Alertmanager's notification: each firing drift alert of a trained model is a trigger."""
        started, skipped, ignored = [], [], []
        for alert in alerts:
            target = self._target_of(alert)
            if alert.status != "firing" or alert.name not in DRIFT_ALERTS or target is None:
                ignored.append(alert.fingerprint)
                continue
            outcome = self.trigger(target, "drift", fingerprint=alert.fingerprint, alertname=alert.name)
            (started if outcome["decision"] == "started" else skipped).append(outcome)
        return {"started": started, "skipped": skipped, "ignored": len(ignored)}

    def _target_of(self, alert: Alert) -> TrainingTarget | None:
        model, tenant = alert.labels.get("model"), alert.labels.get("tenant")
        matches = [t for t in self.targets.values() if t.model == model and tenant in (None, t.tenant)]
        return matches[0] if len(matches) == 1 and "drift" in matches[0].triggers else None

    def trigger(
        self, target: TrainingTarget, trigger: str, *, fingerprint: str | None = None, alertname: str | None = None
    ) -> dict[str, Any]:
        """Start a run of `target` unless one is going; either way, record the trigger."""
        entry: dict[str, Any] = {
            "event": "training-trigger",
            "tenant": target.tenant,
            "model": target.model,
            "trigger": trigger,
            "alertname": alertname,
            "fingerprint": fingerprint,
        }
        with self._lock:
            going = self._running.get(target.key)
            active = going.run_id if going else self.launcher.active(target)
            if active:
                entry.update(decision="skipped", run_id=active, reason="a training run of this model is in progress")
            else:
                try:
                    run_id = self.registry.start_run(target, trigger, fingerprint)
                except Exception as exc:  # the registry is down: recorded, and the caller answers 503
                    self._record({**entry, "decision": "error", "run_id": None, "reason": f"no MLflow run: {exc}"})
                    raise
                try:
                    handle = self.launcher.launch(target, run_id, trigger)
                except LaunchError as exc:
                    self.registry.fail_run(run_id)
                    entry.update(decision="failed-to-start", run_id=run_id, reason=str(exc))
                    self._record(entry)
                    self._finished(target, succeeded=False)
                    return entry
                self._running[target.key] = _Run(run_id, handle, trigger, self.clock())
                self.metrics.in_progress.labels(target.tenant, target.model).set(1)
                entry.update(decision="started", run_id=run_id, where=handle.where)
            self._record(entry)
        self.metrics.triggers.labels(target.tenant, target.model, trigger, entry["decision"]).inc()
        log.info("%s: %s trigger %s run %s", target.label, trigger, entry["decision"], entry["run_id"])
        return entry

    def run_schedules(self, now: float | None = None) -> None:
        """Trigger every model whose training schedule came due (the worker calls this every second)."""
        moment = datetime.fromtimestamp(self.clock() if now is None else now, UTC).replace(tzinfo=None)
        for key, due in list(self._next.items()):
            if moment >= due:
                target = self.targets[key]
                self._next[key] = parse_cron(target.schedule or "").next_after(moment)
                self.trigger(target, "schedule")

    # --- runs -----------------------------------------------------------------------------------

    def check_runs(self) -> None:
        """Finish the runs that ended: gate the version of a good one, record a failed one."""
        with self._lock:
            running = list(self._running.items())
        for key, run in running:
            target = self.targets[key]
            outcome = run.handle.poll()
            overran = outcome is None and self.clock() - run.started > target.timeout_seconds
            if overran:
                run.handle.stop()
                outcome = False
            if outcome is None:
                continue
            entry: dict[str, Any] = {
                "event": "training-run",
                "tenant": target.tenant,
                "model": target.model,
                "run_id": run.run_id,
                "trigger": run.trigger,
                "seconds": round(self.clock() - run.started, 1),
                "where": run.handle.where,
            }
            version = self.registry.version_of(target, run.run_id) if outcome else None
            if version is None:
                self.registry.fail_run(run.run_id)
                reason = "timed out" if overran else "the run failed" if not outcome else "it registered no version"
                entry.update(outcome="failed", reason=reason)
            else:
                passed = self.registry.promote(target, version)
                self.metrics.promotions.labels(target.tenant, target.model, "pass" if passed else "fail").inc()
                entry.update(
                    outcome="succeeded",
                    version=version,
                    gate="pass" if passed else "fail",
                    alias=target.challenger_alias if passed else None,
                )
            with self._lock:
                self._record(entry)
                del self._running[key]
            self._finished(target, succeeded=entry["outcome"] == "succeeded")
            log.info("%s: run %s %s", target.label, run.run_id, entry["outcome"])

    def _finished(self, target: TrainingTarget, *, succeeded: bool) -> None:
        self.metrics.runs.labels(target.tenant, target.model, "succeeded" if succeeded else "failed").inc()
        self.metrics.succeeded.labels(target.tenant, target.model).set(int(succeeded))
        self.metrics.in_progress.labels(target.tenant, target.model).set(0)

    def _record(self, entry: dict[str, Any]) -> None:
        with self.audit.locked():
            self.audit.append({"time": datetime.now(UTC).isoformat(timespec="microseconds"), "actor": ACTOR, **entry})

    def running(self) -> dict[str, str]:
        with self._lock:
            return {self.targets[k].label: r.run_id for k, r in self._running.items()}

    def close(self) -> None:
        with self._lock:
            for run in self._running.values():
                run.handle.stop()


class TriggerApp:
    """The trigger as an ASGI app (POST /alerts, GET /healthz, GET /metrics) plus its worker thread."""

    def __init__(self, service: TriggerService, interval: float = 1.0):
        self.service, self.interval = service, interval
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="training-trigger", daemon=True)
        self._worker.start()

    def close(self) -> None:
        self._stop.set()
        self._worker.join(timeout=10)
        self.service.close()

    def _work(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.run_schedules()
                self.service.check_runs()
            except Exception:  # the registry or the API server hiccuped: try again next tick
                log.exception("training trigger worker")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/healthz":
            await _reply(send, 200, {"ok": True, "running": self.service.running()})
        elif method == "GET" and path == "/metrics":
            await _reply(send, 200, generate_latest(self.service.metrics.registry), b"text/plain; version=0.0.4")
        elif method == "POST" and path == "/alerts":
            await self._alerts(receive, send)
        else:
            await _reply(send, 404, {"error": f"no such endpoint: {method} {path}; Alertmanager posts to /alerts"})

    async def _alerts(self, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > 1_000_000:
                await _reply(send, 413, {"error": "the payload is over 1 MB"})
                return
            if not message.get("more_body"):
                break
        try:
            alerts = parse_alertmanager(body)
        except PayloadError as exc:
            await _reply(send, 400, {"error": exc.message, **({"field": exc.field} if exc.field else {})})
            return
        try:
            summary = await asyncio.to_thread(self.service.on_alerts, alerts)
        except Exception as exc:  # MLflow down: 503 makes Alertmanager retry the notification
            log.exception("handling alerts failed")
            await _reply(send, 503, {"error": f"could not start a training run: {exc}"})
            return
        await _reply(send, 200, summary)


async def _reply(send, status: int, payload: dict[str, Any] | bytes, content_type: bytes = b"application/json") -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
