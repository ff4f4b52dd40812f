"""The LLM gateway with real processes: llama.cpp's server (llama-cpp-python) on the platform's own
GGUF models, PostgreSQL with pgvector for the semantic cache, the gateway, and the official `openai`
client, unchanged, with streaming. Tiny models and short answers keep it to seconds per test."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from blueprints import load_text
from services.llm.build import build_models
from services.llm.gateway.config import gateway_config
from services.llm.local import PgvectorMissing, pgvector_database, start_backend, start_gateway
from services.registry.postgres import PostgresNotInstalled, free_port

pytestmark = pytest.mark.slow

KEYS = {"support": "sk-support-test-key", "research": "sk-research-test-key", "thrifty": "sk-thrifty-test-key"}
BLUEPRINT = """
apiVersion: mlops-platform/v1
kind: Blueprint
metadata: {name: llm-test}
platform:
  llm:
    gateway:
      guardrails: {maxTokens: 32, maxInputChars: 2000, maxMessages: 8}
      semanticCache: {threshold: 0.95}
      breaker: {failures: 1, resetSeconds: 60}
    embeddings: {name: minilm}
    routes:
      - {name: chat, models: [chat-tiny, chat-small], timeoutSeconds: 20}
      - {name: strict, models: [chat-tiny, chat-small], check: {minChars: 100000}}
tenants:
  - name: genai
    quotas: {cpu: "8", memory: 8Gi, pods: 20, storage: 1Gi}
    llm:
      models:
        - {name: chat-tiny, source: {builtin: tiny}, replicas: 2, contextLength: 2048, quality: basic,
           prices: {inputPer1k: 0.0001, outputPer1k: 0.0002}}
        - {name: chat-small, source: {builtin: small}, contextLength: 2048, quality: standard,
           prices: {inputPer1k: 0.001, outputPer1k: 0.002}}
  - name: support
    quotas: {cpu: "1", memory: 1Gi, pods: 2, storage: 1Gi}
    llm: {routes: [chat], budgets: {tokensPerMinute: 100000, spendPerDay: 10}}
  - name: research
    quotas: {cpu: "1", memory: 1Gi, pods: 2, storage: 1Gi}
    llm: {routes: [chat, strict], budgets: {tokensPerMinute: 100000, spendPerDay: 10}}
  - name: thrifty
    quotas: {cpu: "1", memory: 1Gi, pods: 2, storage: 1Gi}
    llm: {routes: [chat], budgets: {tokensPerMinute: 60, spendPerDay: 10}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Two tiny replicas, one small, the embedding model, pgvector, and the gateway."""
    root = tmp_path_factory.mktemp("llm")
    models = build_models()
    started = []
    try:
        with pgvector_database() as dsn:
            ports = {name: free_port() for name in ("tiny-0", "tiny-1", "small-0", "minilm")}
            for name, source, extra in (
                ("tiny-0", "builtin:tiny", {}),
                ("tiny-1", "builtin:tiny", {}),
                ("small-0", "builtin:small", {}),
                ("minilm", "builtin:minilm", {"embedding": True, "context": 512}),
            ):
                model = "minilm" if name == "minilm" else f"chat-{name.split('-')[0]}"
                started.append(start_backend(source, model, ports[name], root / "logs", **extra))
            replicas = {
                "chat-tiny": [f"http://127.0.0.1:{ports['tiny-0']}", f"http://127.0.0.1:{ports['tiny-1']}"],
                "chat-small": [f"http://127.0.0.1:{ports['small-0']}"],
            }
            blueprint = load_text(BLUEPRINT, source="llm-test.yaml")
            config = gateway_config(
                blueprint, lambda _t, model, _n: replicas[model], [f"http://127.0.0.1:{ports['minilm']}"]
            )
            gateway = start_gateway(config, KEYS, free_port(), root / "gateway", dsn=dsn, tokenizer=models.tokenizer)
            started.append(gateway)
            yield {"url": gateway.url, "backends": started, "ports": ports}
    except PostgresNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
    except PgvectorMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        for process in reversed(started):
            process.stop()


def client(stack, tenant: str = "support") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack['url']}/v1", api_key=KEYS[tenant], max_retries=0, timeout=60)


def chat(stack, content: str, tenant: str = "support", **extra):
    messages = [{"role": "system", "content": "Answer in a few words."}, {"role": "user", "content": content}]
    return client(stack, tenant).chat.completions.with_raw_response.create(
        model=extra.pop("model", "chat"), messages=messages, max_tokens=extra.pop("max_tokens", 8), **extra
    )


def test_the_openai_client_gets_a_chat_answer_from_the_cheapest_model(stack):
    raw = chat(stack, "Does the gateway route every request?", temperature=0.0)
    answer = raw.parse()
    assert answer.choices[0].message.content
    assert answer.usage.completion_tokens >= 1 and answer.usage.prompt_tokens >= 1
    assert answer.model == "chat-tiny" and raw.headers["x-mlplat-model"] == "chat-tiny"


def test_a_quality_hint_sends_the_request_to_a_model_good_enough(stack):
    raw = chat(stack, "Does the registry promote a version?", metadata={"quality": "standard"})
    assert raw.parse().model == "chat-small"


def test_streaming_chat_arrives_in_chunks_with_usage_at_the_end(stack):
    stream = client(stack).chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "Does the cache stream a reply?"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.7,
        seed=11,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 2
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1


def test_streaming_completions_and_plain_completions(stack):
    completions = client(stack).completions
    streamed = "".join(
        c.choices[0].text for c in completions.create(model="chat", prompt="The router", max_tokens=6, stream=True)
    )
    plain = completions.create(model="chat", prompt="The router", max_tokens=6)
    assert streamed and plain.choices[0].text


def test_embeddings_come_from_minilm_in_the_clients_default_encoding(stack):
    result = client(stack).embeddings.create(model="minilm", input=["reset my password", "restart the gateway"])
    assert [len(item.embedding) for item in result.data] == [384, 384]
    assert result.usage.prompt_tokens > 0


def test_models_lists_the_tenants_routes_and_the_embedding_model(stack):
    assert sorted(m.id for m in client(stack, "research").models.list()) == ["chat", "minilm", "strict"]
    assert sorted(m.id for m in client(stack, "support").models.list()) == ["chat", "minilm"]


def test_an_identical_request_is_answered_from_the_exact_cache(stack):
    first = chat(stack, "Is the exact cache warm yet?", temperature=0.0)
    second = chat(stack, "Is the exact cache warm yet?", temperature=0.0, stream=False)
    assert first.headers["x-mlplat-cache"] == "miss" and second.headers["x-mlplat-cache"] == "exact"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    other_tenant = chat(stack, "Is the exact cache warm yet?", tenant="research", temperature=0.0)
    assert other_tenant.headers["x-mlplat-cache"] == "miss"  # tenants never share answers


def test_a_paraphrase_is_answered_from_the_semantic_cache_and_a_new_question_is_not(stack):
    first = chat(stack, "How do I reset my password?", temperature=0.0)
    paraphrase = chat(stack, "How can I reset my password?", temperature=0.0)
    different = chat(stack, "Which team owns the billing dashboard?", temperature=0.0)
    assert first.headers["x-mlplat-cache"] == "miss"
    assert paraphrase.headers["x-mlplat-cache"] == "semantic"
    assert paraphrase.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert different.headers["x-mlplat-cache"] == "miss"


def test_a_route_whose_check_rejects_every_answer_escalates_through_its_models(stack):
    raw = chat(stack, "Write a very long essay.", tenant="research", model="strict")
    assert raw.parse().model == "chat-small"  # tiny's answer failed the check: escalated, last answer returned
    metrics = httpx.get(f"{stack['url']}/metrics").text
    assert 'mlplat_llm_fallbacks_total{model="chat-tiny",reason="check",route="strict"}' in metrics


def test_over_budget_is_a_429_with_retry_after(stack):
    with pytest.raises(openai.RateLimitError) as caught:
        for i in range(20):
            chat(stack, f"Question number {i} about the budget?", tenant="thrifty", max_tokens=16)
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert caught.value.body["code"] == "tokens_per_minute_exceeded"


def test_max_tokens_over_the_cap_is_a_400_naming_the_parameter(stack):
    with pytest.raises(openai.BadRequestError) as caught:
        chat(stack, "hi", max_tokens=33)
    assert caught.value.body["param"] == "max_tokens"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"model": "chat"}', 400),
        (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "max_tokens": "many"}', 400),
        (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404),
        (b'{"model": "strict", "messages": [{"role": "user", "content": "x"}]}', 403),
        (b'{"model": "chat", "messages": [{"role": "user", "content": "' + b"x" * 3000 + b'"}]}', 400),
        (b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "tools": []}', 400),
    ],
)
def test_malformed_requests_get_4xx_in_openais_format_never_5xx(stack, body, status):
    response = httpx.post(
        f"{stack['url']}/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {KEYS['support']}", "content-type": "application/json"},
    )
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_wrong_key_is_a_401(stack):
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{stack['url']}/v1", api_key="sk-wrong", max_retries=0).models.list()


def test_a_killed_replica_costs_no_request_and_opens_its_breaker(stack):
    victim = next(p for p in stack["backends"] if p.url.endswith(str(stack["ports"]["tiny-0"])))
    victim.kill()
    answers = [chat(stack, f"After the crash, question {i}?", max_tokens=4).parse() for i in range(6)]
    assert all(a.choices[0].message.content is not None for a in answers)
    time.sleep(0.1)
    metrics = httpx.get(f"{stack['url']}/metrics").text
    assert f'mlplat_llm_breaker_open{{model="chat-tiny",replica="{victim.url}"}} 1.0' in metrics
    assert 'mlplat_llm_fallbacks_total{model="chat-tiny",reason="error",route="chat"}' in metrics


def test_the_gateway_exports_tokens_latency_caches_and_refusals(stack):
    metrics = httpx.get(f"{stack['url']}/metrics").text
    for name in (
        'mlplat_llm_tokens_total{direction="output",model="chat-tiny",route="chat",tenant="support"}',
        "mlplat_llm_time_to_first_token_seconds_bucket",
        "mlplat_llm_time_per_output_token_seconds_bucket",
        'mlplat_llm_cache_lookups_total{cache="exact",result="hit"}',
        'mlplat_llm_cache_lookups_total{cache="semantic",result="hit"}',
        'mlplat_llm_budget_refusals_total{budget="tokens_per_minute",tenant="thrifty"}',
        'mlplat_llm_spend_total{model="chat-tiny",route="chat",tenant="support"}',
    ):
        assert name in metrics, name
