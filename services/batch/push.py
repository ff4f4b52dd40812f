"""Batch metrics to a Prometheus Pushgateway: a batch run ends before any scrape could see it.

One group per batch job (`job="mlplat-batch"`, `batch_job`, `model` and `tenant` as the grouping
key). Every push is a POST (`pushadd`), which replaces only the metrics it carries: a failed run
pushes `mlplat_batch_last_run_succeeded 0` and its failure time, and the last success time of an
earlier run stays, which is what the "late" alert measures from. A successful run pushes everything.

A Pushgateway that cannot be reached is reported and does not fail the run: the scores are written,
and the missing success time will make the job look late, which is the right signal.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from services.batch.score import BatchResult
from services.monitoring import metric_names as m

__all__ = ["JOB", "BatchIdentity", "push_success", "push_failure"]

log = logging.getLogger("mlplat.batch")
JOB = "mlplat-batch"


class BatchIdentity:
    """Who the metrics are about: the grouping key, plus what the alerts compare against."""

    def __init__(
        self,
        gateway: str,
        *,
        job_name: str,
        model: str,
        tenant: str | None = None,
        schedule_seconds: int | None = None,
        max_reject_ratio: float = 0.01,
    ):
        self.gateway = gateway
        self.grouping = {"batch_job": job_name, "model": model, **({"tenant": tenant} if tenant else {})}
        self.schedule_seconds = schedule_seconds
        self.max_reject_ratio = max_reject_ratio


def _gauge(registry: CollectorRegistry, name: str, help_text: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, help_text, labels, registry=registry)


def _common(registry: CollectorRegistry, identity: BatchIdentity, succeeded: bool) -> None:
    _gauge(registry, m.BATCH_LAST_RUN_SUCCEEDED, "1 if the last run published its output, 0 if it failed").set(
        int(succeeded)
    )
    _gauge(registry, m.BATCH_MAX_REJECT_RATIO, "share of rejected rows above which a run fails").set(
        identity.max_reject_ratio
    )
    if identity.schedule_seconds:
        _gauge(registry, m.BATCH_SCHEDULE_INTERVAL, "longest gap between two scheduled runs").set(
            identity.schedule_seconds
        )


def _rows(registry: CollectorRegistry, result: BatchResult) -> None:
    rows = _gauge(registry, m.BATCH_ROWS, "rows of the last run", ("status",))
    rows.labels("scored").set(result.rows_scored)
    rows.labels("rejected").set(result.rows_rejected)
    _gauge(registry, m.BATCH_REJECT_RATIO, "share of the last run's rows that were rejected").set(result.reject_ratio)
    _gauge(registry, m.BATCH_DURATION, "duration of the last run").set(result.seconds)
    drift = _gauge(registry, m.BATCH_FEATURE_DRIFT, "PSI of the batch against the training reference", ("feature",))
    for feature, value in result.psi.items():
        drift.labels(feature).set(value)


def push_success(identity: BatchIdentity, result: BatchResult) -> bool:
    registry = CollectorRegistry()
    _common(registry, identity, succeeded=True)
    _rows(registry, result)
    _gauge(registry, m.BATCH_LAST_SUCCESS, "when a run last published its output").set(time.time())
    return _push(identity, registry)


def push_failure(identity: BatchIdentity, result: BatchResult | None = None) -> bool:
    """A failed run: whatever it measured (a reject-ratio failure measured everything), and the failure."""
    registry = CollectorRegistry()
    _common(registry, identity, succeeded=False)
    if result is not None:
        _rows(registry, result)
    _gauge(registry, m.BATCH_LAST_FAILURE, "when a run last failed").set(time.time())
    return _push(identity, registry)


def _push(identity: BatchIdentity, registry: CollectorRegistry) -> bool:
    try:
        pushadd_to_gateway(identity.gateway, job=JOB, grouping_key=identity.grouping, registry=registry, timeout=10)
    except OSError as exc:
        log.warning("could not push metrics to the Pushgateway at %s: %s", identity.gateway, exc)
        return False
    return True
