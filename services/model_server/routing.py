"""What a served model name routes to: a champion, an optional challenger taking a share of the
traffic, an optional shadow that sees a copy of it, and the poller that keeps them current.

Alias moves are followed by polling (see docs/adr): every `poll_interval` seconds the poller asks
the registry where each alias points; a moved alias is loaded in the poller's thread and swapped in
with one attribute assignment, so no request ever waits for a load or sees half a model.

When the registry does not answer, nothing on the request path changes: the loaded versions keep
serving, `mlplat_registry_up` drops to 0 (degraded) and the poller retries with backoff
(`retry_wait`) until the registry is back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

from services.model_server import metrics
from services.model_server.batching import MicroBatcher
from services.model_server.features import FeatureBinding
from services.model_server.loading import LoadedModel, load, resolve
from services.model_server.reference import DriftWindow
from services.model_server.uris import ModelRef

__all__ = ["Slot", "Route", "Poller", "retry_wait"]

log = logging.getLogger("mlplat.model_server")


@dataclass
class Slot:
    """One variant of a served model: the reference it follows and what is loaded now."""

    ref: ModelRef
    variant: str  # "champion", "challenger" or "shadow"
    drift_window: int = 500
    max_batch_rows: int = 64  # 0 turns micro-batching off (see batching.py)
    max_batch_wait: float = 0.0
    model: LoadedModel | None = None
    drift: DriftWindow | None = None
    refused: str | None = None  # a version the route's feature service cannot serve (not reloaded)

    def swap(self, model: LoadedModel) -> None:
        previous = self.model
        drift = None
        if model.reference and model.signature:
            drift = DriftWindow(model.reference, model.signature.columns, size=self.drift_window)
        self.drift = drift
        # The compiled linear predict costs less than the queueing: batching it would only add latency.
        if self.max_batch_rows > 0 and model.flavor != "sklearn-linear":
            model.batcher = MicroBatcher(model.predict, self.max_batch_rows, self.max_batch_wait)
        self.model = model  # the atomic switch: requests read `slot.model` once
        if previous is not None:
            metrics.MODEL_INFO.labels(self.ref.name, self.variant, previous.version).set(0)
        metrics.MODEL_INFO.labels(self.ref.name, self.variant, model.version).set(1)


@dataclass
class Route:
    name: str
    champion: Slot
    challenger: Slot | None = None
    weight: float = 0.0  # share of requests for the challenger, 0..1
    shadow: Slot | None = None
    features: FeatureBinding | None = None  # entity keys in, online features fetched (features.py)
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def pick(self) -> Slot:
        """The variant that answers this request: the challenger with probability `weight`."""
        challenger = self.challenger
        if challenger is not None and challenger.model is not None and self._random.random() < self.weight:
            return challenger
        return self.champion

    def slots(self) -> list[Slot]:
        return [s for s in (self.champion, self.challenger, self.shadow) if s is not None]

    @property
    def ready(self) -> bool:
        return self.champion.model is not None


class Poller:
    """Loads every slot at start-up (retrying with backoff) and follows alias moves afterwards."""

    def __init__(self, routes: dict[str, Route], interval: float = 30.0, max_backoff: float = 30.0):
        self.routes = routes
        self.interval = interval
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def poll_once(self) -> bool:
        """Check every slot once; True when the registry answered for all of them."""
        healthy = True
        for route in self.routes.values():
            for slot in route.slots():
                try:
                    version, run_id, tags = resolve(slot.ref)
                except Exception as exc:
                    if _not_found(exc):  # the alias is not set (yet): normal for a challenger or shadow
                        if slot.model is None:
                            log.info("%s is not set in the registry yet", slot.ref.uri)
                        continue
                    healthy = False  # the registry is unreachable or failing: serve what is loaded
                    log.warning("cannot resolve %s: %s", slot.ref.uri, exc)
                    continue
                if (slot.model is not None and slot.model.version == version) or slot.refused == version:
                    continue
                try:
                    model = load(slot.ref.name, version, run_id)
                    refusal = route.features.refusal(tags, model.signature) if route.features else None
                    if refusal:
                        # a version trained on other inputs would answer from the wrong features: skew
                        slot.refused = version
                        metrics.MODEL_LOADS.labels(slot.ref.name, "refused").inc()
                        log.error("not serving %s version %s: %s", slot.ref.name, version, refusal)
                        continue
                    slot.swap(model)
                    metrics.MODEL_LOADS.labels(slot.ref.name, "success").inc()
                    log.warning("%s now serves %s version %s", slot.variant, slot.ref.name, version)
                except Exception:
                    healthy = False
                    metrics.MODEL_LOADS.labels(slot.ref.name, "failure").inc()
                    log.exception("loading %s version %s failed; keeping the loaded one", slot.ref.name, version)
        metrics.REGISTRY_UP.set(1 if healthy else 0)
        return healthy

    def _run(self) -> None:
        failures = 0  # consecutive polls the registry did not answer
        while not self._stop.is_set():
            failures = 0 if self.poll_once() else failures + 1
            wait = retry_wait(failures, self.interval, self.max_backoff)
            if failures:
                log.warning(
                    "registry degraded (%d failed polls in a row): serving the loaded versions; next try in %.1fs",
                    failures,
                    wait,
                )
            self._stop.wait(wait)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(route.ready for route in self.routes.values()):
                return True
            time.sleep(0.1)
        return False


def retry_wait(failures: int, interval: float, max_backoff: float) -> float:
    """Seconds until the next poll after `failures` failed polls in a row: the interval while the
    registry answers, then 1, 2, 4 ... seconds, capped by `max_backoff` and the interval. A blip is
    noticed within a second; a long outage costs the registry one call per interval, not a storm."""
    if failures <= 0:
        return interval
    return min(2.0 ** (failures - 1), max_backoff, interval)


def _not_found(exc: Exception) -> bool:
    """An MLflow answer that the model or alias does not exist (as opposed to no answer at all)."""
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")
