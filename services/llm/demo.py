"""`mlplat demo`'s LLM part, on a running standalone platform with LLMs (blueprints/llm.yaml).

For every tenant LLM: measure it on llama.cpp and register it, signed in as its tenant (the GGUF and
its tokenizer in the registry), approve it as the gate's user and let the gate promote it to champion
with the LLM rules (perplexity against the champion, latency and cost against the blueprint's
limits). Then, as each consuming tenant with its own API key and the official openai client: a chat
answer from the cheapest model, the same question again (an exact cache hit), a streamed answer, a
quality hint that moves the request to a better model, and embeddings. Last, the tenants' spend as
the gateway counted it. The backends keep serving the blueprint's model until they restart on the
champion (`mlplat standalone` restarts them; in the cluster the StatefulSet's pods load the alias).

`run_llm_demo(...)` is called by the demo with the platform's URLs and an `acting_as` for the
registry users; it returns a summary for the demo's closing line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from blueprints.schema import Blueprint

__all__ = ["run_llm_demo", "tenant_spend"]


def tenant_spend(metrics_text: str) -> dict[str, float]:
    """Spend per tenant from the gateway's /metrics (mlplat_llm_spend_total)."""
    spend: dict[str, float] = {}
    for line in metrics_text.splitlines():
        match = re.match(r'^mlplat_llm_spend_total\{[^}]*tenant="([^"]+)"[^}]*\} ([0-9.eE+-]+)$', line)
        if match:
            spend[match.group(1)] = spend.get(match.group(1), 0.0) + float(match.group(2))
    return spend


def _register_and_promote(blueprint, tracking_uri, root, say, as_tenant, as_gate) -> list[tuple[str, str]]:
    from blueprints.schema.llm import llm_models
    from services.llm.lifecycle import register_from_blueprint
    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import promote
    from services.promotion_gate.rules import load_rules

    client = registry.client(tracking_uri)
    rules, audit = load_rules(), AuditLog(root / "audit" / "promotions.jsonl")
    promoted = []
    for name, (t_index, _, model) in llm_models(blueprint.tenants).items():
        tenant = blueprint.tenants[t_index].name
        say(f"[llm] {tenant}/{name}: measure on llama.cpp and register the GGUF with its tokenizer")
        with as_tenant(tenant):
            registered, metrics = register_from_blueprint(tenant, model, download_dir=root / "llm" / "sources")
        say("    " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        with as_gate():
            registry.approve(client, name, registered.version, "platform-reviewer")
            decision = promote(
                client,
                rules,
                audit,
                name,
                registered.version,
                model.alias,
                actor="demo",
                limits=model.limits.model_dump(),
            )
        say("    " + decision.table().replace("\n", "\n    "))
        if decision.passed:
            promoted.append((name, registered.version))
    return promoted


def _traffic(gateway_url: str, tenant: str, key: str, routes: tuple[str, ...], say) -> dict:
    import openai

    client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=key, max_retries=1)
    question = [{"role": "user", "content": "Does the gateway route every request?"}]
    first = client.chat.completions.with_raw_response.create(model="chat", messages=question, max_tokens=16)
    again = client.chat.completions.with_raw_response.create(model="chat", messages=question, max_tokens=16)
    answer = first.parse()
    say(f"[llm] {tenant}: chat -> {answer.model}: {answer.choices[0].message.content!r}")
    say(f"    the same question again: cache {again.headers.get('x-mlplat-cache')}")
    stream = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "Stream the budget."}], max_tokens=16, stream=True
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    say(f"    streamed: {streamed!r}")
    hinted = None
    if "chat-quality" in routes:
        hinted = client.chat.completions.create(
            model="chat-quality", messages=question, max_tokens=16, metadata={"quality": "high"}
        ).model
        say(f"    chat-quality with metadata.quality=high -> {hinted}")
    vectors = client.embeddings.create(model="minilm", input=["reset my password", "rotate my API key"]).data
    say(f"    embeddings: {len(vectors)} x {len(vectors[0].embedding)}")
    return {"model": answer.model, "cache": again.headers.get("x-mlplat-cache"), "hinted": hinted}


def run_llm_demo(
    blueprint: Blueprint,
    root: Path,
    *,
    tracking_uri: str,
    gateway_url: str,
    as_tenant: Callable[[str], AbstractContextManager],
    as_gate: Callable[[], AbstractContextManager],
    say: Callable[[str], None] = print,
) -> dict:
    """Register and promote every LLM, then send each consuming tenant's traffic through the gateway."""
    import httpx

    if blueprint.platform.llm is None:
        return {}
    promoted = _register_and_promote(blueprint, tracking_uri, root, say, as_tenant, as_gate)
    traffic = {}
    for tenant in blueprint.tenants:
        if not (tenant.llm and tenant.llm.routes):
            continue
        key = (root / "llm" / "keys" / tenant.name).read_text().strip()
        traffic[tenant.name] = _traffic(gateway_url, tenant.name, key, tuple(tenant.llm.routes), say)
    spend = tenant_spend(httpx.get(f"{gateway_url}/metrics", timeout=10).text)
    currency = blueprint.platform.costs.currency
    say(
        "[llm] spend so far at showback prices: "
        + ", ".join(f"{t} {v:.6f} {currency}" for t, v in sorted(spend.items()))
    )
    return {"promoted": promoted, "traffic": traffic, "spend": spend}
