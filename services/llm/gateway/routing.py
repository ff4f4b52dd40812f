"""Cost-aware routing: which models may answer a request, cheapest first. A pure function.

A route lists candidate models. A candidate qualifies when its context holds the prompt plus the
answer the request may ask for (`prompt_tokens + max_tokens`), and its quality tier meets both the
route's floor and the request's hint (`metadata.quality`, a field OpenAI's API defines for
request metadata). Qualified candidates are ordered by the price of this request on them: input
tokens at the input price plus `max_tokens` at the output price, so a model cheap on input but dear
on output loses a long answer. The gateway tries them in order and escalates to the next one on a
backend error, a timeout or an answer the route's check rejects (`answer_ok`).
"""

from __future__ import annotations

import re

from blueprints.schema import QUALITY_TIERS
from services.llm.gateway.config import Deployment, RouteConfig
from services.llm.gateway.errors import GatewayError, bad_request

__all__ = ["candidates", "answer_ok", "quality_rank"]


def quality_rank(tier: str) -> int:
    return QUALITY_TIERS.index(tier)


def candidates(
    route: RouteConfig,
    deployments: dict[str, Deployment],
    prompt_tokens: int,
    max_tokens: int,
    quality_hint: str | None = None,
) -> list[Deployment]:
    """The route's models that fit, cheapest first; a 400 naming the reason when none does."""
    if quality_hint is not None and quality_hint not in QUALITY_TIERS:
        raise bad_request(
            f"metadata.quality {quality_hint!r} is not a quality tier: use one of {', '.join(QUALITY_TIERS)}",
            "metadata.quality",
        )
    floor = max(quality_rank(route.min_quality), quality_rank(quality_hint) if quality_hint else 0)
    needed = prompt_tokens + max_tokens
    models = [deployments[name] for name in route.models]
    good = [d for d in models if quality_rank(d.quality) >= floor]
    if not good:
        raise bad_request(
            f"route {route.name!r} has no model of quality {QUALITY_TIERS[floor]!r} or better",
            "metadata.quality",
            "quality_unavailable",
        )
    fitting = [d for d in good if d.context_length >= needed]
    if not fitting:
        largest = max(d.context_length for d in good)
        raise GatewayError(
            400,
            f"this request needs {needed} tokens ({prompt_tokens} in the prompt + max_tokens {max_tokens}); "
            f"the largest context on route {route.name!r} is {largest}: shorten the prompt or lower max_tokens",
            "messages",
            "context_length_exceeded",
        )
    return sorted(fitting, key=lambda d: (d.cost(prompt_tokens, max_tokens), -quality_rank(d.quality)))


def answer_ok(route: RouteConfig, text: str) -> bool:
    """The route's check on a whole answer: at least `min_chars`, and its pattern if it has one."""
    if len(text.strip()) < route.min_chars:
        return False
    return route.pattern is None or re.search(route.pattern, text) is not None
