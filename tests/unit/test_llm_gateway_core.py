"""The gateway's pure core: routing, budgets, breakers, prefix affinity, guardrails, caches' keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.llm.gateway.budgets import BudgetLedger
from services.llm.gateway.config import Deployment, GatewayConfig, RouteConfig, TenantConfig
from services.llm.gateway.errors import GatewayError
from services.llm.gateway.exact_cache import ExactCache, request_key
from services.llm.gateway.replicas import CircuitBreaker, ReplicaSet, prefix_key
from services.llm.gateway.requests import parse_request
from services.llm.gateway.routing import answer_ok, candidates
from services.llm.gateway.semantic_cache import context_key

TINY = Deployment("tiny", ("http://a",), 2048, "basic", 0.0001, 0.0002, "tiny")
SMALL = Deployment("small", ("http://b",), 4096, "standard", 0.0005, 0.001, "small")
LARGE = Deployment("large", ("http://c",), 4096, "high", 0.002, 0.004, "large")
DEPLOYMENTS = {d.name: d for d in (TINY, SMALL, LARGE)}
ROUTE = RouteConfig("chat", ("large", "tiny", "small"), "basic", 1, None, 30)


def _config(**overrides) -> GatewayConfig:
    values = dict(
        deployments=DEPLOYMENTS,
        routes={"chat": ROUTE},
        tenants={"a": TenantConfig("a", ("chat",), 1000, 1.0)},
        max_tokens=256,
        max_input_chars=1000,
        max_messages=4,
        max_body_bytes=4096,
    )
    return GatewayConfig(**{**values, **overrides})


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_route_orders_candidates_cheapest_first():
    assert [d.name for d in candidates(ROUTE, DEPLOYMENTS, 100, 50)] == ["tiny", "small", "large"]


def test_route_skips_models_whose_context_is_too_short():
    assert [d.name for d in candidates(ROUTE, DEPLOYMENTS, 2000, 100)] == ["small", "large"]


def test_route_honours_the_quality_hint_and_the_route_floor():
    assert [d.name for d in candidates(ROUTE, DEPLOYMENTS, 10, 10, "high")] == ["large"]
    floor = RouteConfig("q", ("tiny", "small", "large"), "standard", 1, None, 30)
    assert [d.name for d in candidates(floor, DEPLOYMENTS, 10, 10)] == ["small", "large"]


def test_route_refuses_a_request_no_context_holds_with_a_400_naming_the_sizes():
    with pytest.raises(GatewayError) as caught:
        candidates(ROUTE, DEPLOYMENTS, 5000, 100)
    assert caught.value.status == 400 and caught.value.code == "context_length_exceeded"
    assert "5100 tokens" in caught.value.message and "4096" in caught.value.message


def test_route_refuses_an_unknown_quality_hint():
    with pytest.raises(GatewayError) as caught:
        candidates(ROUTE, DEPLOYMENTS, 10, 10, "premium")
    assert caught.value.param == "metadata.quality"


def test_route_check_rejects_short_answers_and_missing_patterns():
    checked = RouteConfig("c", ("tiny",), "basic", 5, r"\d", 30)
    assert not answer_ok(checked, "  ab ")
    assert not answer_ok(checked, "no digits here")
    assert answer_ok(checked, "answer 42")


def test_budget_admits_until_reservations_reach_the_limit_then_refuses_with_retry_after():
    clock = Clock()
    ledger = BudgetLedger({"a": (100, 10.0)}, clock=clock)
    first = ledger.admit("a", 60, 0.0)
    second = ledger.admit("a", 60, 0.0)  # 60 reserved < 100: admitted, may end at most one request over
    with pytest.raises(GatewayError) as caught:
        ledger.admit("a", 1, 0.0)
    assert caught.value.status == 429 and dict(caught.value.headers)[b"retry-after"] == b"1"
    ledger.settle(first, 50, 0.0)
    ledger.settle(second, 40, 0.0)
    assert ledger.usage("a") == (90, 0.0)
    ledger.settle(ledger.admit("a", 5, 0.0), 15, 0.0)  # admitted under the limit, ends 5 over it
    clock.now += 30
    with pytest.raises(GatewayError) as caught:
        ledger.admit("a", 5, 0.0)
    assert caught.value.code == "tokens_per_minute_exceeded"
    assert dict(caught.value.headers)[b"retry-after"] == b"30"  # the first 50 tokens leave the window then
    clock.now += 31
    ledger.admit("a", 5, 0.0)


def test_concurrent_admissions_never_overshoot_by_more_than_one_request():
    ledger = BudgetLedger({"a": (1000, 100.0)})

    async def request() -> int:
        try:
            reservation = ledger.admit("a", 64, 0.0)
        except GatewayError:
            return 0
        await asyncio.sleep(0.001)
        ledger.settle(reservation, 64, 0.0)
        return 64

    async def load() -> int:
        return sum(await asyncio.gather(*(request() for _ in range(200))))

    used = asyncio.run(load())
    assert 1000 <= used <= 1000 + 64


def test_daily_spend_refusal_retries_after_midnight_utc():
    ledger = BudgetLedger({"a": (10**6, 1.0)}, now=lambda: datetime(2026, 12, 5, 23, 0, tzinfo=UTC))
    ledger.settle(ledger.admit("a", 10, 0.5), 10, 1.0)
    with pytest.raises(GatewayError) as caught:
        ledger.admit("a", 10, 0.1)
    assert caught.value.code == "spend_per_day_exceeded"
    assert dict(caught.value.headers)[b"retry-after"] == b"3600"


def test_breaker_opens_after_consecutive_failures_and_lets_one_trial_through():
    breaker = CircuitBreaker(failures_to_open=2, reset_seconds=10)
    breaker.failure(0)
    assert breaker.allows(1)
    breaker.failure(1)
    assert not breaker.allows(5) and breaker.state == "open"
    assert breaker.allows(11) and breaker.state == "half-open"
    assert not breaker.allows(12)  # one trial at a time
    breaker.failure(12)  # the trial failed: open again
    assert not breaker.allows(13)
    assert breaker.allows(22)
    breaker.success()
    assert breaker.state == "closed" and breaker.allows(23)


def test_prefix_affinity_sends_a_shared_system_prompt_to_the_replica_holding_it():
    replicas = ReplicaSet(("r1", "r2"))
    key_a, key_b = prefix_key("system A", "hi"), prefix_key("system B", "hi")
    first_a = replicas.order(key_a)[0]
    replicas.remember(first_a, key_a)
    replicas.start(first_a)  # A's replica is busy: B goes to the other one
    first_b = replicas.order(key_b)[0]
    replicas.remember(first_b, key_b)
    replicas.finish(first_a, ok=True)
    assert first_a != first_b
    assert all(replicas.order(key_a)[0] == first_a for _ in range(5))
    assert all(replicas.order(key_b)[0] == first_b for _ in range(5))


def test_prefix_affinity_yields_to_load_when_the_holder_is_far_busier():
    replicas = ReplicaSet(("r1", "r2"), max_imbalance=2)
    key = prefix_key("system", "x")
    replicas.remember("r1", key)
    replicas.start("r1")
    assert replicas.order(key)[0] == "r1"
    replicas.start("r1")
    assert replicas.order(key)[0] == "r2"


def test_round_robin_when_prefix_routing_is_off_and_open_breakers_are_skipped():
    clock = Clock()
    replicas = ReplicaSet(("r1", "r2"), prefix_routing=False, breaker_failures=1, clock=clock)
    assert [replicas.order("k")[0] for _ in range(4)] == ["r1", "r2", "r1", "r2"]
    replicas.start("r1")
    replicas.finish("r1", ok=False)
    assert replicas.order("k") == ["r2"] and replicas.order("k") == ["r2"]


def test_guardrails_cap_max_tokens_and_name_the_field():
    config = _config()
    with pytest.raises(GatewayError) as caught:
        parse_request("chat", b'{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":999}', config)
    assert caught.value.status == 400 and caught.value.param == "max_tokens"
    parsed = parse_request("chat", b'{"model":"chat","messages":[{"role":"user","content":"hi"}]}', config)
    assert parsed.max_tokens == 256 and parsed.body["max_tokens"] == 256


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"not json", None),
        (b"[]", None),
        (b'{"messages":[{"role":"user","content":"x"}]}', "model"),
        (b'{"model":"chat","messages":[]}', "messages"),
        (b'{"model":"chat","messages":[{"role":"wizard","content":"x"}]}', "messages[0].role"),
        (b'{"model":"chat","messages":[{"role":"user","content":7}]}', "messages[0].content"),
        (b'{"model":"chat","messages":[{"role":"user","content":"x"}],"temperature":"hot"}', "temperature"),
        (b'{"model":"chat","messages":[{"role":"user","content":"x"}],"tools":[]}', "tools"),
        (b'{"model":"chat","messages":[{"role":"user","content":"x"}],"n":2}', "n"),
        (b'{"model":"chat","messages":[{"role":"user","content":"x"}],"bogus":1}', "bogus"),
        (b'{"model":"chat","messages":[{"role":"user","content":"x"}],"max_tokens":0}', "max_tokens"),
        (b'{"model":"chat","messages":[{"role":"user","content":"x"}],"stream_options":{}}', "stream_options"),
    ],
)
def test_guardrails_answer_malformed_requests_with_400_naming_the_parameter(body, param):
    with pytest.raises(GatewayError) as caught:
        parse_request("chat", body, _config())
    assert caught.value.status == 400 and caught.value.param == param


def test_guardrails_limit_input_size_messages_and_body_bytes():
    config = _config()
    long = b'{"model":"chat","messages":[{"role":"user","content":"' + b"x" * 1001 + b'"}]}'
    with pytest.raises(GatewayError) as caught:
        parse_request("chat", long, config)
    assert caught.value.code == "input_too_large"
    many = b'{"model":"chat","messages":[' + b",".join([b'{"role":"user","content":"x"}'] * 5) + b"]}"
    with pytest.raises(GatewayError) as caught:
        parse_request("chat", many, config)
    assert caught.value.param == "messages"
    with pytest.raises(GatewayError) as caught:
        parse_request("chat", b"x" * 5000, config)
    assert caught.value.status == 413


def test_exact_cache_key_ignores_streaming_and_separates_tenants():
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    assert request_key("a", "chat", body) == request_key("a", "chat", {**body, "stream": True, "user": "u"})
    assert request_key("a", "chat", body) != request_key("b", "chat", body)
    assert request_key("a", "chat", body) != request_key("a", "chat", {**body, "max_tokens": 6})


def test_exact_cache_expires_and_evicts_least_recently_used():
    clock = Clock()
    cache = ExactCache(ttl_seconds=10, max_entries=2, clock=clock)
    cache.put("a", {"x": 1})
    cache.put("b", {"x": 2})
    assert cache.get("a")[1] == b'{"x":1}'
    cache.put("c", {"x": 3})  # b was least recently used
    assert cache.get("b") is None and cache.get("a") is not None
    clock.now += 11
    assert cache.get("a") is None


def test_semantic_context_embeds_the_last_user_message_and_hashes_the_rest():
    base = {"model": "chat", "max_tokens": 5, "messages": [{"role": "system", "content": "S"}]}
    one = {**base, "messages": [*base["messages"], {"role": "user", "content": "How do I reset it?"}]}
    two = {**base, "messages": [*base["messages"], {"role": "user", "content": "How can I reset it?"}]}
    other = {**one, "messages": [{"role": "system", "content": "T"}, one["messages"][1]]}
    assert context_key("chat", one)[0] == "How do I reset it?"
    assert context_key("chat", one)[1] == context_key("chat", two)[1]
    assert context_key("chat", one)[1] != context_key("chat", other)[1]
