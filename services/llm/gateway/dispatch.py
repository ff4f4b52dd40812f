"""The completion path, from a validated request to an answer: caches, budget, route, replicas, backend.

In order: the route must exist and be the tenant's; the exact cache, then the semantic cache, may
answer at once (a hit costs the tenant nothing); the budget reserves the most the request may cost
or refuses it (429); the route's candidates are tried cheapest first, each on its replicas in
prefix-aware order, escalating on a backend error, a timeout or an answer the route's check rejects;
the reservation is settled to what every attempt really used, escalations included, since those
tokens were spent.

Streams: the first chunk is awaited before the response starts, so a backend that fails before
answering is replaced as invisibly as in the plain case. Once tokens have reached the caller a stream
cannot change model; a stream whose replica dies mid-answer is replayed on another replica of the same
model with the same seed (the gateway sets one when the caller did not), and only the part not yet
sent is passed on; a replay that diverges ends the stream with an error event. The route's check
applies to whole answers, so not to streams.
"""

from __future__ import annotations

import base64
import secrets
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.llm.gateway.backends import BackendError, Backends
from services.llm.gateway.budgets import BudgetLedger, Reservation
from services.llm.gateway.config import Deployment, GatewayConfig, RouteConfig
from services.llm.gateway.errors import GatewayError
from services.llm.gateway.exact_cache import ExactCache, request_key
from services.llm.gateway.metrics import GatewayMetrics
from services.llm.gateway.replicas import ReplicaSet, prefix_key
from services.llm.gateway.requests import ParsedRequest
from services.llm.gateway.routing import answer_ok, candidates
from services.llm.gateway.semantic_cache import SemanticCache, context_key
from services.llm.gateway.tokens import TokenCounter

__all__ = ["Dispatcher", "Answer", "Stream", "PATHS"]

PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions", "embeddings": "/v1/embeddings"}
_DROPPED = ("metadata", "stream_options")  # the gateway's own business, not the backend's


@dataclass
class Answer:
    body: dict[str, Any] | bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass
class Stream:
    frames: AsyncIterator[bytes]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def answer_text(response: dict[str, Any]) -> str:
    choice = (response.get("choices") or [{}])[0]
    if "message" in choice:
        return choice["message"].get("content") or ""
    return choice.get("text") or ""


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return f"data: {data}\n\n".encode()


class Dispatcher:
    def __init__(
        self,
        config: GatewayConfig,
        backends: Backends,
        metrics: GatewayMetrics,
        counter: TokenCounter | None = None,
        semantic: SemanticCache | None = None,
        *,
        ledger_share: float = 1.0,
    ):
        self.config, self.backends, self.metrics = config, backends, metrics
        self.counter = counter or TokenCounter()
        self.semantic = semantic
        self.exact = ExactCache(config.exact_ttl_seconds, config.exact_max_entries) if config.exact_cache else None
        self.ledger = BudgetLedger(
            {t.name: (t.tokens_per_minute, t.spend_per_day) for t in config.tenants.values()}, share=ledger_share
        )
        deployments = dict(config.deployments)
        if config.embeddings:
            deployments[config.embeddings.name] = config.embeddings
        self.replicas = {
            name: ReplicaSet(
                d.replicas,
                breaker_failures=config.breaker_failures,
                breaker_reset_seconds=config.breaker_reset_seconds,
                capacity=d.prefix_slots,
                prefix_routing=config.prefix_routing,
            )
            for name, d in deployments.items()
        }

    def route_for(self, tenant: str, name: str) -> RouteConfig:
        route = self.config.routes.get(name)
        if route is None:
            raise GatewayError(
                404, f"The model `{name}` does not exist: GET /v1/models lists yours", "model", "model_not_found"
            )
        if name not in self.config.tenants[tenant].routes:
            raise GatewayError(
                403,
                f"tenant {tenant!r} may not use `{name}`: ask for it in the blueprint",
                "model",
                "model_not_allowed",
            )
        return route

    async def handle(self, tenant: str, req: ParsedRequest) -> Answer | Stream:
        route = self.route_for(tenant, req.route)
        key = request_key(tenant, req.endpoint, req.body) if self.exact is not None else None
        cached = self.exact.get(key) if key else None
        if self.exact is not None:  # (an empty cache is falsy: it has a length)
            self.metrics.cache.labels("exact", "hit" if cached else "miss").inc()
        if cached:
            return self._from_cache(req, cached[0], cached[1], "exact")
        semantic_key = None
        if self.semantic is not None:
            hit, semantic_key = await self._semantic_lookup(tenant, req)
            if hit is not None:
                return self._from_cache(req, hit, None, "semantic")
        messages = len(req.body.get("messages", ())) if req.endpoint == "chat" else 0
        prompt_tokens = self.counter.count(req.text, messages)
        options = candidates(route, self.config.deployments, prompt_tokens, req.max_tokens, req.quality)
        reservation = self._admit(
            tenant, prompt_tokens + req.max_tokens, options[-1].cost(prompt_tokens, req.max_tokens)
        )
        if req.stream:
            return await self._open_stream(tenant, route, req, options, reservation, prompt_tokens, key)
        try:
            response, served, spent = await self._first_good(route, req, options)
        except BaseException:
            self.ledger.settle(reservation, 0, 0.0)
            raise
        self._charge(tenant, route, reservation, spent)
        response["model"] = served.name
        if answer_ok(route, answer_text(response)):  # an answer the route rejects is never cached
            if key:
                self.exact.put(key, response)
            if semantic_key is not None:
                await self._semantic_store(tenant, route.name, semantic_key, response)
        return Answer(response, [(b"x-mlplat-cache", b"miss"), (b"x-mlplat-model", served.name.encode())])

    def _admit(self, tenant: str, tokens: int, spend: float) -> Reservation:
        try:
            return self.ledger.admit(tenant, tokens, spend)
        except GatewayError as refusal:
            budget = "tokens_per_minute" if refusal.code == "tokens_per_minute_exceeded" else "spend_per_day"
            self.metrics.refusals.labels(tenant, budget).inc()
            raise

    def _charge(self, tenant: str, route: RouteConfig, reservation: Reservation, spent: list) -> None:
        """Settle the reservation to every attempt's usage, and count tokens and spend by model."""
        tokens, money = 0, 0.0
        for deployment, input_tokens, output_tokens in spent:
            cost = deployment.cost(input_tokens, output_tokens)
            tokens, money = tokens + input_tokens + output_tokens, money + cost
            self.metrics.tokens.labels(tenant, route.name, deployment.name, "input").inc(input_tokens)
            self.metrics.tokens.labels(tenant, route.name, deployment.name, "output").inc(output_tokens)
            self.metrics.spend.labels(tenant, route.name, deployment.name).inc(cost)
        self.ledger.settle(reservation, tokens, money)
        used_tokens, used_spend = self.ledger.usage(tenant)
        limits = self.config.tenants[tenant]
        self.metrics.budget_used.labels(tenant, "tokens_per_minute").set(used_tokens / limits.tokens_per_minute)
        self.metrics.budget_used.labels(tenant, "spend_per_day").set(used_spend / limits.spend_per_day)

    def _backend_body(self, req: ParsedRequest) -> dict[str, Any]:
        return {k: v for k, v in req.body.items() if k not in _DROPPED}

    async def _first_good(self, route: RouteConfig, req: ParsedRequest, options: list[Deployment]):
        """(the first answer the route's check accepts, or the last answer; its model; every attempt's usage)."""
        spent: list[tuple[Deployment, int, int]] = []
        last: tuple[dict[str, Any], Deployment] | None = None
        failures: list[str] = []
        key = prefix_key(req.system, req.text)
        body = self._backend_body(req)
        for deployment in options:
            response = await self._on_replicas(deployment, route, PATHS[req.endpoint], body, key, failures)
            if response is None:
                continue
            usage = response.get("usage") or {}
            spent.append((deployment, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))))
            if answer_ok(route, answer_text(response)):
                return response, deployment, spent
            self.metrics.fallbacks.labels(route.name, deployment.name, "check").inc()
            failures.append(f"{deployment.name}: the answer failed the route's check")
            last = (response, deployment)
        if last is not None:
            return last[0], last[1], spent
        raise self._exhausted(route, failures)

    def _exhausted(self, route: RouteConfig, failures: list[str]) -> GatewayError:
        status = 503 if not failures else 502
        detail = "; ".join(failures[-4:]) or "every replica's circuit breaker is open"
        return GatewayError(
            status, f"route {route.name!r}: no backend could answer ({detail})", None, "backend_unavailable"
        )

    async def _on_replicas(self, deployment, route, path, body, key, failures) -> dict[str, Any] | None:
        replicas = self.replicas[deployment.name]
        for url in replicas.order(key):
            replicas.start(url)
            try:
                response = await self.backends.call(deployment, url, path, body, route.timeout_seconds)
            except BackendError as exc:
                replicas.finish(url, ok=False)
                self._breaker_metric(deployment, url)
                self.metrics.fallbacks.labels(route.name, deployment.name, exc.reason).inc()
                failures.append(f"{deployment.name} at {url}: {exc}")
                continue
            except BaseException:
                replicas.finish(url, ok=True)  # the caller's 4xx or a cancellation: not the replica's fault
                raise
            replicas.finish(url, ok=True)
            self._breaker_metric(deployment, url)
            replicas.remember(url, key)
            return response
        return None

    def _breaker_metric(self, deployment: Deployment, url: str) -> None:
        state = self.replicas[deployment.name].breakers[url].state
        self.metrics.breaker_open.labels(deployment.name, url).set(0 if state == "closed" else 1)

    # -- caches -----------------------------------------------------------------------------------

    def _from_cache(self, req: ParsedRequest, response: dict, raw: bytes | None, cache: str) -> Answer | Stream:
        headers = [(b"x-mlplat-cache", cache.encode()), (b"x-mlplat-model", str(response.get("model", "")).encode())]
        if not req.stream:
            return Answer(raw if raw is not None else response, headers)
        return Stream(self._replay(req, response), headers)

    async def _replay(self, req: ParsedRequest, response: dict[str, Any]) -> AsyncIterator[bytes]:
        """A cached answer as a stream: the whole text in one chunk, then the finish, usage, [DONE]."""
        text = answer_text(response)
        choice = (response.get("choices") or [{}])[0]
        base = {
            "id": response.get("id", "cached"),
            "created": response.get("created", 0),
            "model": response.get("model"),
        }
        if req.endpoint == "chat":
            base["object"] = "chat.completion.chunk"
            yield _sse(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
                }
            )
            yield _sse(
                {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason", "stop")}]}
            )
        else:
            base["object"] = "text_completion"
            yield _sse(
                {**base, "choices": [{"index": 0, "text": text, "finish_reason": choice.get("finish_reason", "stop")}]}
            )
        if req.include_usage:
            yield _sse({**base, "choices": [], "usage": response.get("usage")})
        yield _sse("[DONE]")

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors from the embedding model, and the tokens it counted."""
        deployment = self.config.embeddings
        if deployment is None:
            raise GatewayError(404, "this platform serves no embedding model", "model", "model_not_found")
        failures: list[str] = []
        route = RouteConfig(deployment.name, (deployment.name,), "basic", 0, None, 30.0)
        body = {"input": texts}
        response = await self._on_replicas(deployment, route, PATHS["embeddings"], body, None, failures)
        if response is None:
            raise self._exhausted(route, failures)
        vectors = [item["embedding"] for item in sorted(response["data"], key=lambda d: d["index"])]
        return vectors, int((response.get("usage") or {}).get("prompt_tokens", 0))

    async def _semantic_lookup(self, tenant: str, req: ParsedRequest):
        text, context = context_key(req.endpoint, req.body)
        if not text:
            return None, None
        vector = (await self.embed([text]))[0][0]
        hit, _ = await self.semantic.lookup(tenant, req.route, context, vector)
        self.metrics.cache.labels("semantic", "hit" if hit else "miss").inc()
        return hit, (text, context, vector)

    async def _semantic_store(self, tenant: str, route: str, key, response: dict[str, Any]) -> None:
        text, context, vector = key
        await self.semantic.store(tenant, route, context, text, vector, response)

    async def embeddings(self, tenant: str, req: ParsedRequest) -> Answer:
        """/v1/embeddings: the embedding model's vectors, as floats or base64 (the openai client's default)."""
        if self.config.embeddings is None or req.route != self.config.embeddings.name:
            name = self.config.embeddings.name if self.config.embeddings else "none"
            raise GatewayError(
                404,
                f"The model `{req.route}` does not exist: the embedding model is `{name}`",
                "model",
                "model_not_found",
            )
        texts = [req.body["input"]] if isinstance(req.body["input"], str) else list(req.body["input"])
        tokens = self.counter.count(req.text)
        reservation = self._admit(tenant, tokens, 0.0)
        try:
            vectors, used = await self.embed(texts)
        except BaseException:
            self.ledger.settle(reservation, 0, 0.0)
            raise
        self.ledger.settle(reservation, used or tokens, 0.0)
        self.metrics.tokens.labels(tenant, req.route, req.route, "input").inc(used or tokens)
        as_base64 = req.body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v,
            }
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": used or tokens, "total_tokens": used or tokens}
        return Answer({"object": "list", "data": data, "model": req.route, "usage": usage})

    # -- streams ----------------------------------------------------------------------------------

    async def _open_stream(self, tenant, route, req, options, reservation, prompt_tokens, key) -> Stream:
        """Find a backend that starts answering, then hand its stream to the caller."""
        failures: list[str] = []
        prefix = prefix_key(req.system, req.text)
        # a seed the gateway picks when the caller gave none: sampling is then reproducible, which is what
        # lets a stream whose replica dies be replayed on another (see _StreamRun._resume)
        body = {"seed": secrets.randbelow(2**31), **self._backend_body(req)}
        started = time.perf_counter()
        for deployment in options:
            replicas = self.replicas[deployment.name]
            for url in replicas.order(prefix):
                replicas.start(url)
                chunks = self.backends.stream(deployment, url, PATHS[req.endpoint], body, route.timeout_seconds)
                try:
                    first = await anext(chunks)
                except (BackendError, StopAsyncIteration) as exc:
                    replicas.finish(url, ok=False)
                    self._breaker_metric(deployment, url)
                    reason = exc.reason if isinstance(exc, BackendError) else "error"
                    self.metrics.fallbacks.labels(route.name, deployment.name, reason).inc()
                    failures.append(f"{deployment.name} at {url}: {exc or 'empty stream'}")
                    continue
                except BaseException:
                    replicas.finish(url, ok=True)
                    self.ledger.settle(reservation, 0, 0.0)
                    raise
                replicas.remember(url, prefix)
                run = _StreamRun(self, tenant, route, req, deployment, url, reservation, prompt_tokens, key, started)
                run.body = body
                headers = [(b"x-mlplat-cache", b"miss"), (b"x-mlplat-model", deployment.name.encode())]
                return Stream(run.frames(first, chunks), headers)
        self.ledger.settle(reservation, 0, 0.0)
        raise self._exhausted(route, failures)


class _StreamRun:
    """One stream's bookkeeping: timings, tokens, the text for the cache, resumption, settlement."""

    def __init__(self, dispatcher, tenant, route, req, deployment, url, reservation, prompt_tokens, key, started):
        self.d, self.tenant, self.route, self.req = dispatcher, tenant, route, req
        self.deployment, self.url, self.reservation = deployment, url, reservation
        self.prompt_tokens, self.key, self.started = prompt_tokens, key, started
        self.text: list[str] = []
        self.output_tokens = 0
        self.finish_reason = "stop"
        self.first_at: float | None = None
        self.last_at = started
        self.body: dict[str, Any] = {}  # what the backend was sent (with the seed), for a replay
        self.replayed_tokens = 0  # generated again by a replay and not passed on: spent all the same

    def _note(self, chunk: dict[str, Any]) -> None:
        chunk["model"] = self.deployment.name
        for choice in chunk.get("choices") or ():
            piece = (choice.get("delta") or {}).get("content") if "delta" in choice else choice.get("text")
            if piece:
                now = time.perf_counter()
                if self.first_at is None:
                    self.first_at = now
                    self.d.metrics.ttft.labels(self.deployment.name).observe(now - self.started)
                self.last_at = now
                self.text.append(piece)
                self.output_tokens += 1
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        chunk.pop("usage", None)  # the gateway reports usage itself, once, when asked

    async def frames(self, first: dict[str, Any], chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        ok = caller_left = False
        try:
            self._note(first)
            yield _sse(first)
            while True:
                try:
                    async for chunk in chunks:
                        self._note(chunk)
                        yield _sse(chunk)
                    break
                except BackendError as exc:
                    self.d.replicas[self.deployment.name].finish(self.url, ok=False)
                    self.d.metrics.fallbacks.labels(self.route.name, self.deployment.name, exc.reason).inc()
                    chunks = await self._resume(exc)
            ok = True
            if self.req.include_usage:
                yield _sse(self._usage_chunk(first))
            yield _sse("[DONE]")
        except _Unresumable as exc:
            yield _sse({"error": {"message": str(exc), "type": "api_error", "param": None, "code": "backend_failed"}})
        except GeneratorExit:
            caller_left = True  # the caller hung up: not the replica's fault
            raise
        finally:
            await chunks.aclose()
            if self.url is not None:
                self.d.replicas[self.deployment.name].finish(self.url, ok=ok or caller_left)
            self._settle(ok)

    def _usage_chunk(self, first: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "object", "created")
        return {**{k: first.get(k) for k in keys}, "model": self.deployment.name, "choices": [], "usage": self._usage()}

    async def _resume(self, exc: BackendError) -> AsyncIterator[dict[str, Any]]:
        """Replay the request on another replica of the same model, and pass on only what was not sent yet.

        The same GGUF with the same seed and sampling parameters generates the same tokens, so the
        replay's text starts with what the caller already has: the gateway drops that much and streams
        the rest. A replay that does not start with the sent text (a near-tie in the logits decided
        differently) is not passed on: the stream ends with an error event instead."""
        failed, self.url = self.url, None
        replicas = self.d.replicas[self.deployment.name]
        sent = "".join(self.text)
        for url in [u for u in replicas.order(None) if u != failed]:
            replicas.start(url)
            chunks = self.d.backends.stream(
                self.deployment, url, PATHS[self.req.endpoint], self.body, self.route.timeout_seconds
            )
            try:
                first = await anext(chunks)
            except (BackendError, StopAsyncIteration):
                replicas.finish(url, ok=False)
                continue
            self.url = url
            return self._skip_sent(first, chunks, sent)
        raise _Unresumable(f"the backend failed mid-answer ({exc}) and no other replica could replay it")

    async def _skip_sent(self, first, chunks, sent: str) -> AsyncIterator[dict[str, Any]]:
        replayed = ""

        async def all_chunks():
            yield first
            async for chunk in chunks:
                yield chunk

        async for chunk in all_chunks():
            choice = (chunk.get("choices") or [{}])[0]
            field = "delta" if "delta" in choice else None
            piece = ((choice.get("delta") or {}).get("content") if field else choice.get("text")) or ""
            if len(replayed) >= len(sent):
                yield chunk
                continue
            replayed += piece
            self.replayed_tokens += bool(piece)
            if not (replayed.startswith(sent) or sent.startswith(replayed)):
                raise _Unresumable("the backend failed mid-answer and its replay diverged; ask again for the rest")
            if len(replayed) > len(sent):  # this chunk crosses the point already sent: pass on its new part
                rest = replayed[len(sent) :]
                if field:
                    choice["delta"] = {**choice["delta"], "content": rest}
                else:
                    choice["text"] = rest
                yield chunk
            elif choice.get("finish_reason"):
                yield chunk

    def _usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.prompt_tokens + self.output_tokens,
        }

    def _settle(self, ok: bool) -> None:
        if self.output_tokens > 1 and self.first_at is not None:
            self.d.metrics.tpot.labels(self.deployment.name).observe(
                (self.last_at - self.first_at) / (self.output_tokens - 1)
            )
        spent = [(self.deployment, self.prompt_tokens, self.output_tokens)]
        if self.replayed_tokens:  # a replay read the prompt again and regenerated what was sent
            spent.append((self.deployment, self.prompt_tokens, self.replayed_tokens))
        self.d._charge(self.tenant, self.route, self.reservation, spent)
        if ok and self.key and self.d.exact is not None:
            text = "".join(self.text)
            if answer_ok(self.route, text):
                self.d.exact.put(self.key, self._as_response(text))

    def _as_response(self, text: str) -> dict[str, Any]:
        if self.req.endpoint == "chat":
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": self.finish_reason,
            }
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": self.finish_reason}
            kind = "text_completion"
        return {
            "id": f"cached-{self.key}",
            "object": kind,
            "created": int(time.time()),
            "model": self.deployment.name,
            "choices": [choice],
            "usage": self._usage(),
        }


class _Unresumable(Exception):
    pass
