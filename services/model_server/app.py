"""The ASGI application: the REST request path, in one file, with no framework in between.

Hot path for a prediction (POST /v2/models/{name}[/versions/{v}]/infer or /invocations):
  read body (size-limited; body.py: content type, coding, binary tensors) -> orjson -> the shared
  inference (inference.py: variant, validated batch or online features, predict, the answer in its
  declared datatype) -> orjson response with variant/version headers -> metrics; drift counts; the
  shadow copy runs afterwards on a separate thread.
Every client error is a 4xx JSON body naming the field; a model that raises gives a 500 with the
request id, and the server stays up. The gRPC front end (grpc_server.py) shares the same `Inference`.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson

from services.model_server.body import HEADER_LENGTH, binary_request, check_content_type, inflate
from services.model_server.codec import ClientError, decode_json
from services.model_server.inference import Inference
from services.model_server.openapi import openapi_document
from services.model_server.protocol import SERVER, model_metadata, request_options, rest_answer

__all__ = ["ModelServerApp", "MAX_BODY_BYTES"]

log = logging.getLogger("mlplat.model_server")
MAX_BODY_BYTES = 4 * 1024 * 1024
_JSON = [(b"content-type", b"application/json")]
_BINARY = b"application/octet-stream"
_IDS = itertools.count()
_PID = os.getpid()
# Decided once, when the server starts (server.py sets it for several workers): a library that sets the
# variable later in the process (Feast's does, on import) must not switch /metrics to an empty folder.
_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

Send = Callable[[dict[str, Any]], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class ModelServerApp:
    def __init__(
        self,
        inference: Inference,
        *,
        max_body: int = MAX_BODY_BYTES,
        on_startup: Hook | None = None,
        on_shutdown: Hook | None = None,
    ):
        self.inference = inference
        self.max_body = max_body
        self.on_startup, self.on_shutdown = on_startup, on_shutdown
        self._openapi = orjson.dumps(openapi_document(list(inference.routes)))

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
                name, version, v2 = self._predict_target(path)
                await self._predict(name, version, v2, headers, receive, send, request_id)
            elif method == "GET":
                await self._get(path, send)
            else:
                raise ClientError(405, f"method {method} is not allowed on {path}")
        except ClientError as error:
            await _respond(send, error.status, error.body(request_id), [(b"x-request-id", request_id.encode())])
        except Exception:  # a bug of ours: answer like any other error, keep the process serving
            log.exception("request %s: unexpected error on %s %s", request_id, method, path)
            error = ClientError(500, f"internal error; quote request id {request_id} to the platform team")
            await _respond(send, 500, error.body(request_id), [(b"x-request-id", request_id.encode())])

    def _predict_target(self, path: str) -> tuple[str, str | None, bool]:
        """(model name, version asked for, V2?) of a prediction endpoint."""
        if path == "/invocations":
            return self.inference.default, None, False
        parts = path.strip("/").split("/")
        if parts[:2] == ["v2", "models"] and parts[-1] == "infer":
            if len(parts) == 4:
                return self.inference.route(parts[2]).name, None, True
            if len(parts) == 6 and parts[3] == "versions":
                return self.inference.route(parts[2]).name, parts[4], True
        if len(parts) == 3 and parts[0] == "models" and parts[2] == "invocations":
            return self.inference.route(parts[1]).name, None, False
        raise ClientError(404, f"no such endpoint: POST {path}")

    # --- predictions --------------------------------------------------------------------------
    async def _predict(
        self,
        name: str,
        version: str | None,
        v2: bool,
        headers: dict[bytes, bytes],
        receive,
        send: Send,
        request_id: str,
    ) -> None:
        inference = self.inference
        route = inference.routes[name]
        slot, model = inference.choose(route, version)
        code = 500
        started = inference.begin(name)
        try:
            header_length = headers.get(HEADER_LENGTH) if v2 else None
            check_content_type(headers.get(b"content-type"), v2, header_length is not None)
            body = await self._read_body(headers, receive)
            coding = headers.get(b"content-encoding")
            if coding is not None:
                body = inflate(body, coding, self.max_body)
            document = binary_request(body, header_length) if header_length is not None else decode_json(body)
            options = request_options(document) if v2 else None
            answer = await inference.run(route, slot, model, document, v2, request_id)
            response_headers = [
                (b"x-request-id", request_id.encode()),
                (b"x-model-name", name.encode()),
                (b"x-model-version", model.version.encode()),
                (b"x-model-variant", slot.variant.encode()),
                *answer.flags,
            ]
            content_type = None
            if options is not None:
                payload, json_length = rest_answer(
                    name, model.version, slot.variant, options, answer.predictions, model.output
                )
                if json_length is not None:
                    response_headers.append((HEADER_LENGTH, str(json_length).encode()))
                    content_type = _BINARY
            else:
                payload = _invocations_answer(answer.predictions)
            code = 200
            await _respond(send, 200, payload, response_headers, content_type)
            inference.observe(route, slot, answer)
        except ClientError as error:
            code = error.status
            raise
        finally:
            inference.end(name, model, slot.variant, code, started)

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

    # --- metadata, health, metrics ------------------------------------------------------------
    async def _get(self, path: str, send: Send) -> None:
        if path == "/v2/health/live":
            await _respond(send, 200, b'{"live":true}')
        elif path == "/v2/health/ready":
            ready = self.inference.ready
            await _respond(send, 200 if ready else 503, orjson.dumps({"ready": ready}))
        elif path == "/metrics":
            body, content_type = _metrics()
            await _respond(send, 200, body, [], content_type=content_type)
        elif path == "/openapi.json":
            await _respond(send, 200, self._openapi)
        elif path == "/v2":
            await _respond(send, 200, orjson.dumps(SERVER))
        elif path == "/ping":  # MLflow's scoring-server health check (its ScoringServerClient waits on it)
            ready = self.inference.ready
            await _respond(send, 200 if ready else 503, orjson.dumps({"ready": ready}))
        elif path == "/version":  # MLflow's scoring server answers its version here
            await _respond(send, 200, SERVER["version"].encode(), content_type=b"text/plain; charset=utf-8")
        elif path.startswith("/v2/models/"):
            await self._model_get(path, send)
        else:
            raise ClientError(404, f"no such endpoint: GET {path}")

    async def _model_get(self, path: str, send: Send) -> None:
        """/v2/models/{name}[/versions/{version}] (metadata) and the same with /ready."""
        parts = path.strip("/").split("/")
        route = self.inference.route(parts[2])
        rest = parts[3:]
        version = None
        if rest[:1] == ["versions"] and len(rest) >= 2:
            version, rest = rest[1], rest[2:]
        if rest not in ([], ["ready"]):
            raise ClientError(404, f"no such endpoint: GET {path}")
        slot, model = self.inference.choose(route, version) if version else (route.champion, route.champion.model)
        if rest == ["ready"]:
            ready = model is not None
            await _respond(send, 200 if ready else 503, orjson.dumps({"name": route.name, "ready": ready}))
        else:
            await _respond(send, 200, orjson.dumps(model_metadata(route, slot)))

    async def _lifespan(self, receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self.on_startup:
                        await self.on_startup()
                except Exception as exc:  # e.g. the gRPC port is taken: fail the start, say why
                    log.error("start-up failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown:
                    await self.on_shutdown()
                self.inference.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _invocations_answer(predictions: np.ndarray) -> bytes:
    """MLflow's scoring format: {"predictions": [...]}."""
    if predictions.dtype.kind in "fiub":
        return orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps({"predictions": predictions.tolist()})


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
