"""The gateway's whole configuration, as plain data generated from the blueprint.

The same generator serves the cluster (a ConfigMap, replicas addressed by their StatefulSet pod names)
and standalone (a file, replicas on loopback ports), so both run the same gateway on the same
configuration. Secrets are never in it: tenants' API keys are files in a directory (a mounted Secret,
or `.mlplat/llm/keys/`), a provider's key is an environment variable named here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from blueprints.schema import Blueprint

__all__ = [
    "Deployment",
    "RouteConfig",
    "TenantConfig",
    "GatewayConfig",
    "gateway_config",
    "provider_key_env",
]


@dataclass(frozen=True)
class Deployment:
    """One servable model: a tenant's LLM on its replicas, or a provider's model."""

    name: str  # what routes name: the LLM's name, or <provider>/<model>
    replicas: tuple[str, ...]  # base URLs (the OpenAI API is under /v1)
    context_length: int
    quality: str
    input_per_1k: float
    output_per_1k: float
    engine_model: str  # the `model` sent to the backend
    key_env: str | None = None  # a provider's API key, from this environment variable
    prefix_slots: int = 4  # shared prompt prefixes one replica's prompt cache holds (prefix-aware routing)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_1k + output_tokens * self.output_per_1k) / 1000


@dataclass(frozen=True)
class RouteConfig:
    name: str
    models: tuple[str, ...]
    min_quality: str
    min_chars: int
    pattern: str | None
    timeout_seconds: float


@dataclass(frozen=True)
class TenantConfig:
    name: str
    routes: tuple[str, ...]
    tokens_per_minute: int
    spend_per_day: float


@dataclass(frozen=True)
class GatewayConfig:
    deployments: dict[str, Deployment]
    routes: dict[str, RouteConfig]
    tenants: dict[str, TenantConfig]
    max_tokens: int
    max_input_chars: int
    max_messages: int
    max_body_bytes: int
    exact_cache: bool = True
    exact_ttl_seconds: int = 300
    exact_max_entries: int = 10_000
    semantic_cache: bool = False
    semantic_threshold: float = 0.95
    semantic_ttl_seconds: int = 3600
    embeddings: Deployment | None = None
    breaker_failures: int = 3
    breaker_reset_seconds: float = 10.0
    prefix_routing: bool = True
    currency: str = "USD"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes | str) -> GatewayConfig:
        raw = orjson.loads(data)
        deployments = {k: _deployment(v) for k, v in raw.pop("deployments").items()}
        routes = {k: RouteConfig(**{**v, "models": tuple(v["models"])}) for k, v in raw.pop("routes").items()}
        tenants = {k: TenantConfig(**{**v, "routes": tuple(v["routes"])}) for k, v in raw.pop("tenants").items()}
        embeddings = raw.pop("embeddings")
        return cls(
            deployments=deployments,
            routes=routes,
            tenants=tenants,
            embeddings=_deployment(embeddings) if embeddings else None,
            **raw,
        )

    @classmethod
    def from_file(cls, path: Path | str) -> GatewayConfig:
        return cls.from_json(Path(path).read_bytes())


def _deployment(raw: dict[str, Any]) -> Deployment:
    return Deployment(**{**raw, "replicas": tuple(raw["replicas"])})


def provider_key_env(provider: str) -> str:
    """The environment variable holding a provider's API key (from its Secret in the cluster)."""
    return f"MLPLAT_PROVIDER_KEY_{provider.upper().replace('-', '_')}"


def gateway_config(
    blueprint: Blueprint,
    replica_urls: Callable[[str, str, int], list[str]],
    embedding_urls: list[str] | None = None,
) -> GatewayConfig:
    """The gateway's configuration for a blueprint. `replica_urls(tenant, model, replicas)` gives each
    replica's base URL: pod DNS names in the cluster, loopback ports in standalone."""
    llm = blueprint.platform.llm
    if llm is None:
        raise ValueError(f"blueprint {blueprint.metadata.name!r} declares no platform.llm: there is no gateway")
    deployments: dict[str, Deployment] = {}
    for tenant in blueprint.tenants:
        for model in tenant.llm.models if tenant.llm else ():
            deployments[model.name] = Deployment(
                name=model.name,
                replicas=tuple(replica_urls(tenant.name, model.name, model.replicas)),
                context_length=model.context_length,
                quality=model.quality,
                input_per_1k=model.prices.input_per_1k,
                output_per_1k=model.prices.output_per_1k,
                engine_model=model.name,
                prefix_slots=model.prefix_slots,
            )
    for provider in llm.providers:
        for pm in provider.models:
            name = f"{provider.name}/{pm.name}"
            deployments[name] = Deployment(
                name=name,
                replicas=(provider.url.removesuffix("/v1"),),
                context_length=pm.context_length,
                quality=pm.quality,
                input_per_1k=pm.prices.input_per_1k,
                output_per_1k=pm.prices.output_per_1k,
                engine_model=pm.name,
                key_env=provider_key_env(provider.name),
            )
    routes = {
        r.name: RouteConfig(
            r.name, tuple(r.models), r.min_quality, r.check.min_chars, r.check.pattern, r.timeout_seconds
        )
        for r in llm.routes
    }
    tenants = {
        t.name: TenantConfig(t.name, tuple(t.llm.routes), t.llm.budgets.tokens_per_minute, t.llm.budgets.spend_per_day)
        for t in blueprint.tenants
        if t.llm and t.llm.routes and t.llm.budgets
    }
    gw = llm.gateway
    embeddings = None
    if embedding_urls:
        embeddings = Deployment(llm.embeddings.name, tuple(embedding_urls), 512, "basic", 0.0, 0.0, llm.embeddings.name)
    return GatewayConfig(
        deployments=deployments,
        routes=routes,
        tenants=tenants,
        max_tokens=gw.guardrails.max_tokens,
        max_input_chars=gw.guardrails.max_input_chars,
        max_messages=gw.guardrails.max_messages,
        max_body_bytes=gw.guardrails.max_body_bytes,
        exact_cache=gw.exact_cache.enabled,
        exact_ttl_seconds=gw.exact_cache.ttl_seconds,
        exact_max_entries=gw.exact_cache.max_entries,
        semantic_cache=gw.semantic_cache.enabled and embeddings is not None,
        semantic_threshold=gw.semantic_cache.threshold,
        semantic_ttl_seconds=gw.semantic_cache.ttl_seconds,
        embeddings=embeddings,
        breaker_failures=gw.breaker.failures,
        breaker_reset_seconds=gw.breaker.reset_seconds,
        prefix_routing=gw.prefix_routing,
        currency=blueprint.platform.costs.currency,
    )
