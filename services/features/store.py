"""Running Feast on a generated repository: apply, materialize (with metrics), historical features, serve.

Every use of Feast's own code is here, behind functions that take the repository folder (repo.py
writes it from the blueprint), so the rest of the platform never imports Feast (its import alone
takes seconds): the model servers read the online store directly (online.py), and these run in
processes of their own (`mlplat features ...`: the cluster's Job, CronJob and feature server, and
standalone's start-up step and schedule), or in training code.

- `apply`: `feast apply` (registers the definitions, creates the online tables); idempotent.
- `materialize`: `feast materialize-incremental` up to now: the newest value of every entity from
  the offline data into the online store; each run pushes its outcome to the Pushgateway (one group
  per tenant), which the "late materialization" alert reads (services/monitoring/rules.py).
- `historical_features`: point-in-time-correct training data (`get_historical_features`): for each
  (entity, timestamp) row, the newest feature values at or before the timestamp and within the TTL.
- `serve_command`: `feast serve` for the tenant's feature server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.monitoring import metric_names as m

__all__ = ["apply", "materialize", "historical_features", "serve_command", "Materialized", "JOB", "FeatureStoreError"]

log = logging.getLogger("mlplat.features")
JOB = "mlplat-feature-materialization"  # the Pushgateway group's job label


class FeatureStoreError(RuntimeError):
    """Feast refused or failed; the message names the repository and what to do."""


@dataclass(frozen=True)
class Materialized:
    tenant: str
    views: tuple[str, ...]
    until: datetime
    seconds: float


@contextlib.contextmanager
def _keep_cwd() -> Iterator[None]:
    """Feast's apply changes the working directory to the repository's; give it back afterwards."""
    previous = Path.cwd()
    try:
        yield
    finally:
        os.chdir(previous)


def _check(repo: Path) -> Path:
    repo = Path(repo).resolve()
    if not (repo / "feature_store.yaml").is_file():
        raise FeatureStoreError(
            f"{repo}: no feature_store.yaml; the repository is generated from the blueprint (standalone writes it "
            "under .mlplat/features/<tenant>/repo, the cluster mounts it from the feature-repo ConfigMap)"
        )
    return repo


def apply(repo: Path) -> None:
    from feast.repo_config import load_repo_config
    from feast.repo_operations import apply_total

    repo = _check(repo)
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))  # Feast imports the definitions as modules of the repository
    for source in repo.glob("*.py"):  # by name (`features`): a second repository in this process must not
        loaded = sys.modules.get(source.stem)  # get the first one's definitions from Python's module cache
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != source.resolve():
            del sys.modules[source.stem]
    with _keep_cwd():
        apply_total(load_repo_config(repo, repo / "feature_store.yaml"), repo, skip_source_validation=True)


def materialize(
    repo: Path,
    *,
    tenant: str,
    pushgateway: str | None = None,
    schedule_seconds: int | None = None,
    until: datetime | None = None,
) -> Materialized:
    from feast import FeatureStore

    repo = _check(repo)
    started = time.monotonic()
    until = until or datetime.now(UTC)
    try:
        store = FeatureStore(repo_path=str(repo))
        views = tuple(v.name for v in store.list_feature_views())
        store.materialize_incremental(end_date=until)
    except Exception as exc:
        _push(pushgateway, tenant, schedule_seconds, succeeded=False, seconds=time.monotonic() - started)
        raise FeatureStoreError(f"materializing {repo} failed: {exc}") from exc
    done = Materialized(tenant, views, until, time.monotonic() - started)
    _push(pushgateway, tenant, schedule_seconds, succeeded=True, seconds=done.seconds)
    return done


def _push(gateway: str | None, tenant: str, schedule_seconds: int | None, *, succeeded: bool, seconds: float) -> None:
    """The run's outcome to the Pushgateway; an unreachable gateway is logged and does not fail the run."""
    if not gateway:
        return
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    Gauge(m.MATERIALIZATION_LAST_RUN_SUCCEEDED, "1 if the last materialization succeeded", registry=registry).set(
        int(succeeded)
    )
    Gauge(m.MATERIALIZATION_DURATION, "duration of the last materialization", registry=registry).set(seconds)
    if succeeded:
        Gauge(m.MATERIALIZATION_LAST_SUCCESS, "when a materialization last succeeded", registry=registry).set(
            time.time()
        )
    if schedule_seconds:
        Gauge(m.MATERIALIZATION_INTERVAL, "longest gap between two scheduled runs", registry=registry).set(
            schedule_seconds
        )
    try:
        pushadd_to_gateway(gateway, job=JOB, grouping_key={"tenant": tenant}, registry=registry, timeout=10)
    except OSError as exc:
        log.warning("could not push materialization metrics to %s: %s", gateway, exc)


def historical_features(repo: Path, service: str, entity_rows):
    """Training data: `entity_rows` (a DataFrame of join keys and `event_timestamp`, plus any label
    columns) joined point-in-time with the service's features."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(_check(repo)))
    return store.get_historical_features(entity_df=entity_rows, features=store.get_feature_service(service)).to_df()


def serve_command(repo: Path, host: str, port: int) -> list[str]:
    """Feast's feature server with one worker, no access log and no periodic worker restarts (gunicorn's
    --max-requests, which Feast sets to 1000 by default, restarts the worker under load)."""
    feast = str(Path(sys.executable).parent / "feast")  # this environment's Feast, whatever is on PATH
    return [feast, "-c", str(repo), "serve", "-h", host, "-p", str(port), "--no-access-log", "-w", "1",
            "--max-requests", "0"]  # fmt: skip
