"""A stream whose replica dies mid-answer is replayed on another replica with the same seed, and the
caller gets every token exactly once (services/llm/gateway/dispatch.py _StreamRun._resume)."""

from __future__ import annotations

import asyncio
import random

import orjson

from services.llm.gateway.backends import BackendError
from services.llm.gateway.config import Deployment
from services.llm.gateway.dispatch import Dispatcher
from services.llm.gateway.metrics import GatewayMetrics
from services.llm.gateway.requests import parse_request
from tests.unit.test_llm_gateway_core import ROUTE, _config

TWO_REPLICAS = Deployment("tiny", ("http://a", "http://b"), 2048, "basic", 0.0001, 0.0002, "tiny")


class FakeBackends:
    """Replicas that generate words from the request's seed; `dying` ones break after `die_after` chunks."""

    def __init__(self, dying: set[str], die_after: int = 3, diverge: bool = False):
        self.dying, self.die_after, self.diverge, self.calls = dying, die_after, diverge, []

    async def stream(self, deployment, url, path, body, timeout):
        self.calls.append((url, body["seed"]))
        rng = random.Random(body["seed"] + (1 if self.diverge and url not in self.dying else 0))
        yield {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        for i in range(8):
            if url in self.dying and i == self.die_after:
                raise BackendError("error", f"{url}: the stream broke")
            word = f" w{rng.randrange(1000)}"
            yield {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": word}}]}
        yield {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def _run(backends: FakeBackends) -> tuple[str, list[bytes]]:
    config = _config(routes={"chat": ROUTE}, exact_cache=False)
    config = _config(deployments={**config.deployments, "tiny": TWO_REPLICAS}, exact_cache=False)
    dispatcher = Dispatcher(config, backends, GatewayMetrics())
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
    request = parse_request("chat", orjson.dumps(body), config)

    async def go() -> list[bytes]:
        stream = await dispatcher.handle("a", request)
        return [frame async for frame in stream.frames]

    frames = asyncio.run(go())
    chunks = [orjson.loads(f[6:]) for f in frames if f.startswith(b"data: {")]
    text = "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c.get("choices"))
    return text, frames


def test_a_stream_broken_mid_answer_is_replayed_and_every_token_arrives_exactly_once():
    backends = FakeBackends(dying={"http://a"})
    text, frames = _run(backends)
    assert len(backends.calls) == 2 and backends.calls[0][1] == backends.calls[1][1]  # same seed replayed
    assert backends.calls[1][0] == "http://b"  # on the model's other replica
    rng = random.Random(backends.calls[0][1])
    assert text.split() == [f"w{rng.randrange(1000)}" for _ in range(8)]  # what one healthy replica says
    assert frames[-1] == b"data: [DONE]\n\n"


def test_a_replay_that_diverges_ends_the_stream_with_an_error_event_not_a_wrong_answer():
    text, frames = _run(FakeBackends(dying={"http://a"}, diverge=True))
    assert b'"code":"backend_failed"' in frames[-1]
    assert len(text.split()) == 3  # what was sent before the break, nothing invented after it
