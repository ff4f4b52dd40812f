"""The gateway's ASGI application: OpenAI's API over the platform's LLMs.

`POST /v1/chat/completions`, `POST /v1/completions` (both with `stream: true` as server-sent
events), `POST /v1/embeddings` and `GET /v1/models`, authenticated by the tenant's API key; plus
`/metrics`, `/healthz` and `/readyz`. Pure ASGI, like the model server: the whole path from bytes in
to bytes out fits on a screen, and a cache hit touches nothing but a dictionary (ADR 0022 measures
what that buys against LiteLLM's proxy).

Every error is a JSON body in OpenAI's format with the status OpenAI would use; nothing the caller
sends produces a 5xx (an unexpected exception is logged and answered 500 with no detail, and the
tests send malformed requests to prove there is none).
"""

from __future__ import annotations

import gc
import logging
import os
import time

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.llm.gateway.auth import ApiKeys
from services.llm.gateway.backends import Backends, ClientError
from services.llm.gateway.config import GatewayConfig
from services.llm.gateway.dispatch import Answer, Dispatcher, Stream
from services.llm.gateway.errors import GatewayError, error_body
from services.llm.gateway.metrics import GatewayMetrics
from services.llm.gateway.requests import parse_request
from services.llm.gateway.semantic_cache import SemanticCache
from services.llm.gateway.tokens import TokenCounter

__all__ = ["GatewayApp", "DSN_ENV"]

log = logging.getLogger("mlplat.llm.gateway")
DSN_ENV = "MLPLAT_LLM_CACHE_DSN"  # the semantic cache's PostgreSQL (with pgvector)
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_ENDPOINTS = {b"/v1/chat/completions": "chat", b"/v1/completions": "completions", b"/v1/embeddings": "embeddings"}


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        keys: ApiKeys,
        *,
        tokenizer: str | None = None,
        dsn: str | None = None,
        ledger_share: float = 1.0,
    ):
        self.config, self.keys = config, keys
        self.metrics = GatewayMetrics()
        self.backends: Backends | None = None
        self.semantic = None
        if config.semantic_cache:
            dsn = dsn or os.environ.get(DSN_ENV)
            if not dsn:
                raise ValueError(f"the semantic cache is on: set {DSN_ENV} to its PostgreSQL (with pgvector)")
            self.semantic = SemanticCache(dsn, config.semantic_threshold, config.semantic_ttl_seconds)
        self._counter = TokenCounter(tokenizer)
        self._share = ledger_share
        self.dispatcher: Dispatcher | None = None
        self.ready = False

    async def startup(self) -> None:
        self.backends = Backends()
        if self.semantic is not None:
            await self.semantic.open()
        self.dispatcher = Dispatcher(
            self.config, self.backends, self.metrics, self._counter, self.semantic, ledger_share=self._share
        )
        # Everything allocated so far lives as long as the process: keep it out of the collector's
        # generations, so a full collection under load walks only what requests allocate.
        gc.collect()
        gc.freeze()
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        if self.backends is not None:
            await self.backends.close()
        if self.semantic is not None:
            await self.semantic.close()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"].encode(), scope["method"]
        tenant, route, code = "unknown", "unknown", 200
        try:
            if path in _ENDPOINTS:
                if method != "POST":
                    raise GatewayError(405, f"{scope['path']} takes POST", None, "method_not_allowed")
                tenant = self.keys.tenant(_header(scope, b"authorization"))
                raw = await _body(receive, self.config.max_body_bytes)
                request = parse_request(_ENDPOINTS[path], raw, self.config)
                route = request.route if request.route in self.config.routes else route
                if request.endpoint == "embeddings":
                    result = await self.dispatcher.embeddings(tenant, request)
                else:
                    result = await self.dispatcher.handle(tenant, request)
                await (_stream(send, result) if isinstance(result, Stream) else _json(send, 200, result))
            elif path == b"/v1/models" and method == "GET":
                tenant = self.keys.tenant(_header(scope, b"authorization"))
                await _json(send, 200, Answer(self._models(tenant)))
            else:
                await self._plain(path, send)
                return
        except GatewayError as exc:
            code = exc.status
            await _send(send, exc.status, error_body(exc), [_JSON, *exc.headers])
        except ClientError as exc:  # the backend refused the request itself: pass its answer on
            code = exc.status
            await _send(send, exc.status, exc.body, [_JSON])
        except Exception:
            code = 500
            log.exception("unexpected error on %s", scope["path"])
            await _send(send, 500, error_body(GatewayError(500, "internal error", None, "internal_error")), [_JSON])
        self.metrics.requests.labels(tenant, route, str(code)).inc()

    def _models(self, tenant: str) -> dict:
        names = list(self.config.tenants[tenant].routes)
        if self.config.embeddings:
            names.append(self.config.embeddings.name)
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "mlops-platform"} for n in names]
        return {"object": "list", "data": data}

    async def _plain(self, path: bytes, send) -> None:
        if path == b"/metrics":
            await _send(
                send, 200, generate_latest(self.metrics.registry), [(b"content-type", CONTENT_TYPE_LATEST.encode())]
            )
        elif path == b"/healthz":
            await _send(send, 200, b'{"status":"ok"}', [_JSON])
        elif path == b"/readyz":
            await _send(
                send, 200 if self.ready else 503, b'{"ready":%s}' % (b"true" if self.ready else b"false"), [_JSON]
            )
        else:
            await _send(
                send, 404, error_body(GatewayError(404, f"no such path: {path.decode()}", None, "not_found")), [_JSON]
            )

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # e.g. the semantic cache's database is unreachable
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def _body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, f"the body is over {limit} bytes", None, "body_too_large")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, headers) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _json(send, status: int, answer: Answer) -> None:
    body = answer.body if isinstance(answer.body, bytes) else orjson.dumps(answer.body)
    await _send(send, status, body, [_JSON, *answer.headers])


async def _stream(send, stream: Stream) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*_SSE, *stream.headers]})
    started = time.perf_counter()
    async for frame in stream.frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    log.debug("stream finished in %.3fs", time.perf_counter() - started)
