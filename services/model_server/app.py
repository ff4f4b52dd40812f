"""The ASGI application: the request path, in one file, with no framework in between.

Hot path for a prediction (POST /v2/models/{name}/infer or /invocations):
  read body (size-limited) -> orjson -> validated float64 batch (codec.py; or, for a model that reads
  a feature service and a request that names entity keys, its online features: features.py) -> pick a variant
  -> model.predict(batch) inline -> orjson response with variant/version headers
  -> metrics; drift counts; the shadow copy runs afterwards on a separate thread.
Every client error is a 4xx JSON body naming the field; a model that raises gives a 500 with the
request id, and the server stays up.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson

from services.model_server import metrics
from services.model_server.codec import ClientError, decode_invocations, decode_json, decode_v2
from services.model_server.openapi import openapi_document
from services.model_server.routing import Route, Slot

__all__ = ["ModelServerApp", "MAX_BODY_BYTES"]

log = logging.getLogger("mlplat.model_server")
MAX_BODY_BYTES = 4 * 1024 * 1024
_JSON = [(b"content-type", b"application/json")]
_IDS = itertools.count()
_PID = os.getpid()
# Decided once, when the server starts (server.py sets it for several workers): a library that sets the
# variable later in the process (Feast's does, on import) must not switch /metrics to an empty folder.
_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

Send = Callable[[dict[str, Any]], Awaitable[None]]


class ModelServerApp:
    def __init__(
        self,
        routes: dict[str, Route],
        *,
        max_body: int = MAX_BODY_BYTES,
        on_startup: Callable[[], None] | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ):
        if not routes:
            raise ValueError("serve at least one model")
        self.routes = routes
        self.default = next(iter(routes))
        self.max_body = max_body
        self.on_startup, self.on_shutdown = on_startup, on_shutdown
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._openapi = orjson.dumps(openapi_document(list(routes)))

    # --- ASGI entry point ---------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or f"{_PID}-{next(_IDS)}"
        try:
            if method == "POST":
                name = self._predict_target(path)
                await self._predict(name, path.endswith("/infer"), headers, receive, send, request_id)
            elif method == "GET":
                await self._get(path, send, request_id)
            else:
                raise ClientError(405, f"method {method} is not allowed on {path}")
        except ClientError as error:
            await _respond(send, error.status, error.body(request_id), [(b"x-request-id", request_id.encode())])
        except Exception:  # a bug of ours: answer like any other error, keep the process serving
            log.exception("request %s: unexpected error on %s %s", request_id, method, path)
            error = ClientError(500, f"internal error; quote request id {request_id} to the platform team")
            await _respond(send, 500, error.body(request_id), [(b"x-request-id", request_id.encode())])

    def _predict_target(self, path: str) -> str:
        if path == "/invocations":
            return self.default
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["v2", "models"] and parts[3] == "infer":
            return self._route(parts[2]).name
        if len(parts) == 3 and parts[0] == "models" and parts[2] == "invocations":
            return self._route(parts[1]).name
        raise ClientError(404, f"no such endpoint: POST {path}")

    def _route(self, name: str) -> Route:
        route = self.routes.get(name)
        if route is None:
            raise ClientError(404, f"unknown model {name!r}; this server serves {sorted(self.routes)}", "model")
        return route

    # --- predictions --------------------------------------------------------------------------
    async def _predict(
        self, name: str, v2: bool, headers: dict[bytes, bytes], receive, send: Send, request_id: str
    ) -> None:
        started = time.perf_counter()
        route = self.routes[name]
        slot = route.pick()
        model = slot.model
        version = model.version if model else "none"
        code = 500
        gauge = metrics.in_flight(name)
        gauge.inc()
        try:
            if model is None:
                raise ClientError(503, f"model {name!r} is not loaded yet; retry when /v2/health/ready is 200")
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type != b"application/json":
                raise ClientError(
                    415,
                    f"send the body as application/json (got {content_type.decode('latin-1') or 'no content type'})",
                )
            body = await self._read_body(headers, receive)
            document = decode_json(body)
            binding, flags = route.features, []
            rows = binding.rows(document, v2) if binding is not None else None  # entity keys (features.py)
            if rows is not None:
                batch, flags = binding.batch(rows, model.signature)
                v2_id = document.get("id") if v2 else None
            elif v2:
                batch, v2_id = decode_v2(document, model.signature)
            else:
                batch = decode_invocations(document, model.signature)
            inference_started = time.perf_counter()
            try:
                batcher = model.batcher
                predictions = await batcher.predict(batch) if batcher is not None else model.predict(batch)
                if not isinstance(predictions, np.ndarray):
                    predictions = np.asarray(predictions)
            except Exception:
                log.exception("request %s: %s version %s raised while predicting", request_id, name, version)
                raise ClientError(
                    500, f"the model raised while predicting; quote request id {request_id} to the platform team"
                ) from None
            metrics.inference_timer(name, slot.variant).observe(time.perf_counter() - inference_started)
            values = predictions.reshape(-1).tolist()  # once: for the response and the metrics
            payload = self._payload(name, model.version, predictions, values, v2, v2_id if v2 else None)
            code = 200
            await _respond(
                send,
                200,
                payload,
                [
                    (b"x-request-id", request_id.encode()),
                    (b"x-model-name", name.encode()),
                    (b"x-model-version", model.version.encode()),
                    (b"x-model-variant", slot.variant.encode()),
                    *flags,
                ],
            )
            self._observe(route, slot, batch, predictions, values)
        except ClientError as error:
            code = error.status
            raise
        finally:
            gauge.dec()
            metrics.request_counter(name, version, slot.variant, code).inc()
            metrics.request_timer(name, slot.variant).observe(time.perf_counter() - started)

    async def _read_body(self, headers: dict[bytes, bytes], receive) -> bytes:
        length = headers.get(b"content-length")
        if length is not None and int(length) > self.max_body:
            raise ClientError(413, f"the body is {int(length)} bytes; the limit is {self.max_body}")
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise ClientError(413, f"the body exceeds the {self.max_body}-byte limit")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    @staticmethod
    def _payload(
        name: str, version: str, predictions: np.ndarray, values: list[Any], v2: bool, request_id: str | None
    ) -> bytes:
        if v2:
            datatype = {"f": "FP64", "i": "INT64", "u": "INT64", "b": "BOOL"}.get(predictions.dtype.kind, "BYTES")
            output = {
                "name": "predict",
                "shape": list(predictions.shape),
                "datatype": datatype,
                "data": values,
            }
            body: dict[str, Any] = {"model_name": name, "model_version": version, "outputs": [output]}
            if request_id is not None:
                body["id"] = request_id
            return orjson.dumps(body)
        if predictions.dtype.kind in "fiub":
            return orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
        return orjson.dumps({"predictions": predictions.tolist()})

    def _observe(self, route: Route, slot: Slot, batch: np.ndarray, predictions: np.ndarray, values: list[Any]) -> None:
        """After the response is sent: prediction distribution, drift, and the shadow copy."""
        model = slot.model
        if model is not None and model.classes is not None:
            if len(values) <= 16:  # the common case: a handful of rows, no sort needed
                for value in values:
                    metrics.prediction_counter(route.name, slot.variant, str(value)).inc()
            else:
                values, counts = np.unique(predictions, return_counts=True)
                for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                    metrics.prediction_counter(route.name, slot.variant, str(value)).inc(count)
        elif predictions.dtype.kind in "fiu":
            timer = metrics.PREDICTION_VALUE.labels(route.name, slot.variant)
            for value in values[:100]:
                timer.observe(value)
        _drift(route.name, slot, batch)
        shadow = route.shadow
        if shadow is not None and shadow.model is not None:
            self._shadow_pool.submit(_run_shadow, route.name, shadow, batch, predictions)

    # --- metadata, health, metrics ------------------------------------------------------------
    async def _get(self, path: str, send: Send, request_id: str) -> None:
        if path == "/v2/health/live":
            await _respond(send, 200, b'{"live":true}')
        elif path == "/v2/health/ready":
            ready = all(route.ready for route in self.routes.values())
            await _respond(send, 200 if ready else 503, orjson.dumps({"ready": ready}))
        elif path == "/metrics":
            body, content_type = _metrics()
            await _respond(send, 200, body, [], content_type=content_type)
        elif path == "/openapi.json":
            await _respond(send, 200, self._openapi)
        elif path == "/v2":
            await _respond(
                send,
                200,
                orjson.dumps(
                    {"name": "mlops-platform-model-server", "version": "0.1.0", "extensions": ["mlflow-invocations"]}
                ),
            )
        elif path.startswith("/v2/models/"):
            parts = path.strip("/").split("/")
            route = self._route(parts[2])
            if len(parts) == 3:
                await _respond(send, 200, orjson.dumps(_metadata(route)))
            elif len(parts) == 4 and parts[3] == "ready":
                await _respond(
                    send, 200 if route.ready else 503, orjson.dumps({"name": route.name, "ready": route.ready})
                )
            else:
                raise ClientError(404, f"no such endpoint: GET {path}")
        else:
            raise ClientError(404, f"no such endpoint: GET {path}")

    async def _lifespan(self, receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.on_startup:
                    self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown:
                    self.on_shutdown()
                self._shadow_pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


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


def _metadata(route: Route) -> dict[str, Any]:
    model = route.champion.model
    signature = model.signature if model else None
    inputs = [{"name": c, "datatype": "FP64", "shape": [-1]} for c in signature.columns] if signature else []
    variants = {
        slot.variant: {
            "uri": slot.ref.uri,
            "version": slot.model.version if slot.model else None,
            "flavor": slot.model.flavor if slot.model else None,
        }
        for slot in route.slots()
    }
    return {
        "name": route.name,
        "versions": sorted({v["version"] for v in variants.values() if v["version"]}),
        "platform": "mlflow",
        "inputs": inputs,
        "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
        "parameters": {"variants": variants, "challenger_weight": route.weight},
    }


def _metrics() -> tuple[bytes, bytes]:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if _MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST.encode()
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST.encode()


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes | None = None,
) -> None:
    headers = [(b"content-type", content_type)] if content_type else list(_JSON)
    headers.append((b"content-length", str(len(body)).encode()))
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
