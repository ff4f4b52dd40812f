"""LLM serving (docs/llm.md, ADR 0022): the models a tenant serves on llama.cpp, the shared gateway in
front of them with its caches and routes, and each tenant's access to it with its budgets.

Two hooks, one field each: `platform.llm` (the gateway, its routes, the embedding model and any
external provider) and `tenants[].llm` (the LLMs a tenant serves, and the routes and budgets it may
use). An LLM is a tenant's model like any other: registered in the registry under its name, promoted
by the gate (with the LLM rules: perplexity against the champion, latency and cost per 1k tokens
against `limits` here), and served by alias.

Prices are the platform's showback prices per 1k tokens, input and output apart, as providers price.
The route picks the cheapest candidate whose context fits the request and whose quality meets the
route's floor and the request's hint; a backend error, a timeout or an answer the route's check
rejects escalates to the next candidate.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from blueprints.schema.fields import DnsName, ResourceList, Resources, Spec, repeated

__all__ = [
    "QUALITY_TIERS",
    "LLMSource",
    "LLMPrices",
    "LLMLimits",
    "LLMModel",
    "ProviderModel",
    "Provider",
    "RouteCheck",
    "Route",
    "ExactCache",
    "SemanticCache",
    "CircuitBreaker",
    "Guardrails",
    "LLMGatewaySettings",
    "EmbeddingModel",
    "PlatformLLM",
    "Budgets",
    "TenantLLM",
]

# Ordered: a route or request asking for "standard" accepts "standard" and "high".
QUALITY_TIERS = ("basic", "standard", "high")
Quality = Literal["basic", "standard", "high"]
BUILTIN_MODELS = ("tiny", "small", "large")  # services/llm/gguf_models.py SHAPES
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LLMSource(Spec):
    """Where the GGUF comes from when it is registered: one of the platform's own models (built offline
    from the generated corpus), a GGUF file by URL, or a file in a Hugging Face repository."""

    builtin: Literal["tiny", "small", "large"] | None = None
    url: str | None = None
    sha256: str | None = Field(default=None, description="checked after a URL or Hugging Face download")
    hugging_face: str | None = Field(default=None, description='"owner/repo"')
    file: str | None = Field(default=None, description="the GGUF file in the Hugging Face repository")

    @model_validator(mode="after")
    def _one_source(self) -> LLMSource:
        given = [k for k in ("builtin", "url", "hugging_face") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of builtin (tiny, small, large), url (a .gguf file) or huggingFace "
                f"(owner/repo, with file); got {', '.join(given) or 'none'}"
            )
        if self.url is not None and not re.match(r"^(https?|file)://\S+\.gguf$", self.url):
            raise ValueError(f"url {self.url!r}: give an http(s):// or file:// URL of a .gguf file")
        if self.hugging_face is not None and (
            not re.match(r"^[\w.-]+/[\w.-]+$", self.hugging_face) or not (self.file or "").endswith(".gguf")
        ):
            raise ValueError('huggingFace: give "owner/repo" and file: the .gguf file in it')
        if self.sha256 is not None and not _SHA256.match(self.sha256):
            raise ValueError(f"sha256 {self.sha256!r}: give the file's 64 lowercase hex digits")
        return self


class LLMPrices(Spec):
    """Showback prices in the platform's currency per 1000 tokens, input and output apart."""

    input_per_1k: float = Field(ge=0, alias="inputPer1k")
    output_per_1k: float = Field(ge=0, alias="outputPer1k")

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_1k + output_tokens * self.output_per_1k) / 1000


class LLMLimits(Spec):
    """What the promotion gate holds a new version to (policies/promotion/llm-rules.yaml)."""

    max_seconds_per_output_token: float = Field(default=0.1, gt=0, le=10)
    max_time_to_first_token_seconds: float = Field(default=2.0, gt=0, le=120)
    max_cost_per_1k_tokens: float = Field(default=1.0, gt=0, alias="maxCostPer1kTokens")


class LLMModel(Spec):
    """An LLM a tenant serves: llama.cpp replicas of the registered GGUF, by alias."""

    name: DnsName
    source: LLMSource
    alias: DnsName = "champion"
    replicas: int = Field(default=1, ge=1, le=20)
    context_length: int = Field(ge=128, le=1_048_576, description="tokens of prompt plus answer")
    quality: Quality
    prices: LLMPrices
    limits: LLMLimits = LLMLimits()
    threads: int = Field(default=1, ge=1, le=64, description="CPU threads per replica (llama.cpp n_threads)")
    prompt_cache_mib: int = Field(default=256, ge=0, le=65536, description="the engine's prefix (KV) cache")
    prefix_slots: int = Field(
        default=4,
        ge=1,
        le=1024,
        description="system prompts one replica's prompt cache holds (promptCacheMib over one prompt's KV "
        "state): how many prefixes the gateway assigns to a replica",
    )
    resources: Resources = Resources(
        requests=ResourceList(cpu="500m", memory="512Mi"),
        limits=ResourceList(cpu="1", memory="1Gi"),
    )


class ProviderModel(Spec):
    name: str = Field(min_length=1, description="the provider's model id")
    context_length: int = Field(ge=128, le=10_000_000)
    quality: Quality
    prices: LLMPrices


class Provider(Spec):
    """An external OpenAI-compatible provider, for users with internet. The gateway's NetworkPolicy
    allows egress to it only when one is declared; the tests never call it."""

    name: DnsName
    url: str
    key_secret: str = Field(description="the Secret (in the platform namespace) whose `api-key` is the key")
    models: list[ProviderModel] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _https(cls, url: str) -> str:
        if not re.match(r"^https://[^/\s]+(/\S*)?$", url):
            raise ValueError(f"{url!r}: a provider is reached over https:// (e.g. https://api.openai.com/v1)")
        return url.rstrip("/")


class RouteCheck(Spec):
    """What an answer must satisfy, or the route escalates to the next candidate."""

    min_chars: int = Field(default=1, ge=0, le=100_000, description="answers shorter than this are rejected")
    pattern: str | None = Field(default=None, description="a regular expression the answer must contain")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression ({exc})") from None
        return pattern


class Route(Spec):
    """What a client names as `model`: the candidates, cheapest first at request time."""

    name: DnsName
    models: list[str] = Field(min_length=1, description="LLM names, or <provider>/<model> for external ones")
    min_quality: Quality = "basic"
    check: RouteCheck = RouteCheck()
    timeout_seconds: float = Field(default=30, gt=0, le=600)


class ExactCache(Spec):
    enabled: bool = True
    ttl_seconds: int = Field(default=300, ge=1, le=7 * 86400)
    max_entries: int = Field(default=10_000, ge=1, le=10_000_000)


class SemanticCache(Spec):
    """A pgvector store of prompt embeddings: a new prompt within `threshold` cosine similarity of a
    cached one gets its answer. The threshold is set from the labelled set's measured precision."""

    enabled: bool = True
    threshold: float = Field(default=0.95, gt=0, lt=1)
    ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86400)


class CircuitBreaker(Spec):
    failures: int = Field(default=3, ge=1, le=100, description="consecutive failures that open the breaker")
    reset_seconds: float = Field(default=10, gt=0, le=3600, description="open this long, then one trial request")


class Guardrails(Spec):
    max_tokens: int = Field(ge=1, le=1_000_000, description="the cap on a request's max_tokens (required)")
    max_input_chars: int = Field(default=32_000, ge=1, le=10_000_000)
    max_messages: int = Field(default=64, ge=1, le=10_000)
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=100 * 2**20)


class LLMGatewaySettings(Spec):
    replicas: int = Field(default=1, ge=1, le=10)
    guardrails: Guardrails
    exact_cache: ExactCache = ExactCache()
    semantic_cache: SemanticCache = SemanticCache()
    breaker: CircuitBreaker = CircuitBreaker()
    prefix_routing: bool = Field(default=True, description="send shared prompt prefixes to the replica holding them")
    resources: Resources = Resources(
        requests=ResourceList(cpu="250m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="512Mi"),
    )


class EmbeddingModel(Spec):
    """The model behind /v1/embeddings and the semantic cache (all-MiniLM-L6-v2 by default)."""

    name: DnsName = "minilm"
    replicas: int = Field(default=1, ge=1, le=10)
    resources: Resources = Resources(
        requests=ResourceList(cpu="250m", memory="256Mi"),
        limits=ResourceList(cpu="1", memory="512Mi"),
    )


class PlatformLLM(Spec):
    """The shared LLM gateway: routes over the tenants' LLMs and any external provider."""

    gateway: LLMGatewaySettings
    embeddings: EmbeddingModel = EmbeddingModel()
    providers: list[Provider] = Field(default_factory=list)
    routes: list[Route] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PlatformLLM:
        for field, names in (
            ("routes", [r.name for r in self.routes]),
            ("providers", [p.name for p in self.providers]),
        ):
            index = repeated(names)
            if index is not None:
                raise ValueError(f"{field}[{index}].name: {names[index]!r} is declared twice: names are unique")
        return self


class Budgets(Spec):
    """A tenant's limits at the gateway: over either, requests get 429 with Retry-After."""

    tokens_per_minute: int = Field(ge=1, le=1_000_000_000)
    spend_per_day: float = Field(gt=0, description="in the platform's currency, per UTC day")


class TenantLLM(Spec):
    """The LLMs a tenant serves, and the routes and budgets it may use at the gateway."""

    models: list[LLMModel] = Field(default_factory=list)
    routes: list[DnsName] = Field(default_factory=list, description="routes the tenant's API key may call")
    budgets: Budgets | None = None

    @model_validator(mode="after")
    def _budgets_with_routes(self) -> TenantLLM:
        if self.routes and self.budgets is None:
            raise ValueError(
                "budgets: a tenant that calls routes needs budgets (tokensPerMinute, spendPerDay): "
                "an LLM without a budget has no cost ceiling"
            )
        index = repeated([m.name for m in self.models])
        if index is not None:
            raise ValueError(f"models[{index}].name: {self.models[index].name!r} is declared twice")
        return self


def llm_models(tenants) -> dict[str, tuple[int, int, LLMModel]]:
    """Every tenant's LLM by name: (tenant index, model index, model)."""
    found: dict[str, tuple[int, int, LLMModel]] = {}
    for index, tenant in enumerate(tenants):
        for m_index, model in enumerate(tenant.llm.models if tenant.llm else ()):
            found.setdefault(model.name, (index, m_index, model))
    return found


def check_llm(platform_llm: PlatformLLM | None, tenants) -> None:
    """The rules that span sections: names resolve, routes exist, LLM names are unique registry-wide."""
    served = llm_models(tenants)
    classic = {m.name for t in tenants for m in t.models}
    seen: set[str] = set()
    for index, tenant in enumerate(tenants):
        for m_index, model in enumerate(tenant.llm.models if tenant.llm else ()):
            where = f"tenants[{index}].llm.models[{m_index}].name"
            if model.name in classic:
                raise ValueError(f"{where}: {model.name!r} is also a model's name: registered names are unique")
            if model.name in seen:
                raise ValueError(f"{where}: LLM {model.name!r} is declared by another tenant too: rename one")
            seen.add(model.name)
    uses_gateway = [i for i, t in enumerate(tenants) if t.llm and t.llm.routes]
    if platform_llm is None:
        if uses_gateway:
            raise ValueError(
                f"tenants[{uses_gateway[0]}].llm.routes: no gateway is declared: add platform.llm "
                "(gateway, routes), or remove the tenant's routes"
            )
        return
    external = {f"{p.name}/{m.name}" for p in platform_llm.providers for m in p.models}
    for r_index, route in enumerate(platform_llm.routes):
        for name in route.models:
            if name not in served and name not in external:
                raise ValueError(
                    f"platform.llm.routes[{r_index}].models: {name!r} is neither a tenant's LLM "
                    f"({', '.join(sorted(served)) or 'none declared'}) nor a provider's model (<provider>/<model>)"
                )
    routes = {r.name for r in platform_llm.routes}
    for index in uses_gateway:
        for name in tenants[index].llm.routes:
            if name not in routes:
                known = ", ".join(sorted(routes))
                raise ValueError(f"tenants[{index}].llm.routes: no route {name!r} in platform.llm.routes ({known})")
