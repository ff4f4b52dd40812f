"""One prediction, whatever protocol carried it: the part REST (app.py) and gRPC (grpc_server.py) share.

    choose(route, version) -> the variant that answers (canary split, or the version asked for)
    run(...)               -> entity keys to online features, or the request's tensors to a validated
                              batch (codec.py); the model's predict (micro-batched when it pays);
                              the answer in the datatype the metadata declares
    observe(...)           -> after the answer is sent: prediction counts, drift, the shadow copy
    begin(...) / end(...)  -> the request metrics (in flight, count by status, latency)

Both front ends hold the same `Inference`, so they share the loaded models, the canary split, the
shadow's thread and every metric: a request counts the same whether it came over HTTP or gRPC
(ADR 0021). Nothing here knows about bytes on a wire.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.model_server import metrics
from services.model_server.codec import ClientError, decode_invocations, decode_v2
from services.model_server.loading import LoadedModel
from services.model_server.protocol import conform, served_versions
from services.model_server.routing import Route, Slot

__all__ = ["Inference", "Answer"]

log = logging.getLogger("mlplat.model_server")


@dataclass
class Answer:
    """What a prediction produced: the batch it ran on, the model's output, and the response headers
    (gRPC: trailing metadata) that flag how the features were served."""

    batch: np.ndarray
    predictions: np.ndarray
    flags: list[tuple[bytes, bytes]]


class Inference:
    def __init__(self, routes: dict[str, Route]):
        if not routes:
            raise ValueError("serve at least one model")
        self.routes = routes
        self.default = next(iter(routes))
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")

    def route(self, name: str) -> Route:
        route = self.routes.get(name)
        if route is None:
            raise ClientError(404, f"unknown model {name!r}; this server serves {sorted(self.routes)}", "model")
        return route

    @property
    def ready(self) -> bool:
        return all(route.ready for route in self.routes.values())

    def choose(self, route: Route, version: str | None) -> tuple[Slot, LoadedModel | None]:
        """The variant that answers and the model it holds now (read once: an alias move may swap it).
        No version: the canary split decides. A version: the champion or challenger serving it (the
        shadow's answers are never returned), else 404 naming the versions served."""
        if not version:
            slot = route.pick()
            return slot, slot.model
        for slot in (route.champion, route.challenger):
            model = slot.model if slot is not None else None
            if model is not None and model.version == version:
                return slot, model
        if route.champion.model is None:
            return route.champion, None  # nothing loaded yet: the caller answers 503
        raise ClientError(
            404,
            f"model {route.name!r} has no version {version!r} here; it serves versions {served_versions(route)}",
            "version",
        )

    # --- the request's metrics ----------------------------------------------------------------
    @staticmethod
    def begin(name: str) -> float:
        metrics.in_flight(name).inc()
        return time.perf_counter()

    @staticmethod
    def end(name: str, model: LoadedModel | None, variant: str, code: int, started: float) -> None:
        metrics.in_flight(name).dec()
        metrics.request_counter(name, model.version if model else "none", variant, code).inc()
        metrics.request_timer(name, variant).observe(time.perf_counter() - started)

    # --- the prediction -----------------------------------------------------------------------
    async def run(
        self, route: Route, slot: Slot, model: LoadedModel | None, document: Any, v2: bool, request_id: str
    ) -> Answer:
        """Decode, predict and (V2) conform the answer to the model's output datatype."""
        if model is None:
            raise ClientError(503, f"model {route.name!r} is not loaded yet; retry when /v2/health/ready is 200")
        binding, flags = route.features, []
        rows = binding.rows(document, v2) if binding is not None else None  # entity keys (features.py)
        if rows is not None:
            batch, flags = binding.batch(rows, model.signature)
        elif v2:
            batch, _ = decode_v2(document, model.signature)
        else:
            batch = decode_invocations(document, model.signature)
        started = time.perf_counter()
        try:
            batcher = model.batcher
            predictions = await batcher.predict(batch) if batcher is not None else model.predict(batch)
            if not isinstance(predictions, np.ndarray):
                predictions = np.asarray(predictions)
        except Exception:
            log.exception("request %s: %s version %s raised while predicting", request_id, route.name, model.version)
            raise ClientError(
                500, f"the model raised while predicting; quote request id {request_id} to the platform team"
            ) from None
        metrics.inference_timer(route.name, slot.variant).observe(time.perf_counter() - started)
        if v2:
            try:
                predictions = conform(predictions, model.output)
            except ValueError as exc:
                log.error("request %s: %s version %s: %s", request_id, route.name, model.version, exc)
                raise ClientError(
                    500, f"{exc}; quote request id {request_id} to the platform team", "outputs"
                ) from None
        return Answer(batch, predictions, flags)

    def observe(self, route: Route, slot: Slot, answer: Answer) -> None:
        """After the response is sent: prediction distribution, drift, and the shadow copy."""
        model, predictions = slot.model, answer.predictions
        if model is not None and model.classes is not None:
            if predictions.size <= 16:  # the common case: a handful of rows, no sort needed
                for value in predictions.reshape(-1).tolist():
                    metrics.prediction_counter(route.name, slot.variant, str(value)).inc()
            else:
                values, counts = np.unique(predictions, return_counts=True)
                for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                    metrics.prediction_counter(route.name, slot.variant, str(value)).inc(count)
        elif predictions.dtype.kind in "fiu":
            timer = metrics.PREDICTION_VALUE.labels(route.name, slot.variant)
            for value in predictions.reshape(-1)[:100].tolist():
                timer.observe(value)
        _drift(route.name, slot, answer.batch)
        shadow = route.shadow
        if shadow is not None and shadow.model is not None:
            self._shadow_pool.submit(_run_shadow, route.name, shadow, answer.batch, predictions)

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=False, cancel_futures=True)


def _drift(name: str, slot: Slot, batch: np.ndarray) -> None:
    window, model = slot.drift, slot.model
    if window is None or model is None:
        return
    result = window.add(batch)
    if result:
        for feature, value in result.items():
            metrics.FEATURE_DRIFT.labels(name, model.version, slot.variant, feature).set(value)


def _run_shadow(name: str, shadow: Slot, batch: np.ndarray, answered: np.ndarray) -> None:
    """The mirrored request: measured like any other, its result only compared, never returned."""
    model = shadow.model
    if model is None:
        return
    started = time.perf_counter()
    code = 200
    try:
        predictions = np.asarray(model.predict(batch))
        metrics.inference_timer(name, "shadow").observe(time.perf_counter() - started)
        if predictions.shape == answered.shape:
            disagreements = int(np.count_nonzero(predictions != answered))
            if disagreements:
                metrics.SHADOW_DISAGREEMENTS.labels(name).inc(disagreements)
        _drift(name, shadow, batch)
    except Exception:
        code = 500
        log.exception("shadow %s version %s raised (the client was not affected)", name, model.version)
    finally:
        metrics.request_counter(name, model.version, "shadow", code).inc()
        metrics.request_timer(name, "shadow").observe(time.perf_counter() - started)
