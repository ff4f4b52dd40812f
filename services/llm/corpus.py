"""The text the platform's own language models learn from: generated, so it ships as code, not data.

No weights or data sets can be downloaded here, so the tokenizer and the models are made from a
corpus the project generates: sentences about running a platform (tenants, models, latency, budgets),
drawn from a small grammar with a fixed seed. The same seed always gives the same text, so the
tokenizer and every model are reproducible byte for byte. A second seed gives the held-out text the
promotion gate measures perplexity on: same grammar, different sentences.

The text is poor on purpose and on principle: what matters here is that the mechanics are real
(tokens, KV cache, prefill, decode, timings), not what the models say.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["sentences", "corpus", "TRAIN_SEED", "HELD_OUT_SEED"]

TRAIN_SEED = 20
HELD_OUT_SEED = 2020

_SUBJECTS = (
    "the model server",
    "the gateway",
    "the registry",
    "the promotion gate",
    "the batch job",
    "the trigger",
    "the feature store",
    "the canary",
    "the champion",
    "the challenger",
    "the tenant",
    "the operator",
    "the scheduler",
    "the cache",
    "the router",
    "the backend",
    "the replica",
    "the alert",
    "the dashboard",
    "the budget",
    "the tokenizer",
    "the small model",
    "the large model",
    "the embedding store",
    "the database",
)
_VERBS = (
    "answers",
    "routes",
    "caches",
    "serves",
    "rejects",
    "promotes",
    "retrains",
    "scales",
    "measures",
    "records",
    "streams",
    "counts",
    "refuses",
    "restores",
    "watches",
    "labels",
    "prices",
    "escalates",
    "falls back to",
)
_OBJECTS = (
    "every request",
    "the prompt",
    "the next token",
    "a new version",
    "the drift alert",
    "the error budget",
    "each tenant",
    "the system prompt",
    "a cached answer",
    "the cheapest model",
    "the slow replica",
    "the daily spend",
    "the tokens per minute",
    "a streamed reply",
    "the held-out text",
    "the backup",
    "the p99 latency",
    "the first token",
    "the key value cache",
    "the quota",
    "the audit log",
)
_ADVERBS = (
    "quickly",
    "carefully",
    "again",
    "at once",
    "before noon",
    "within budget",
    "on every replica",
    "without a restart",
    "in order",
    "under load",
    "after the gate",
    "for each team",
    "by default",
)
_NUMBERS = ("one", "two", "three", "four", "eight", "ten", "twelve", "sixty", "a hundred", "a thousand")
_UNITS = ("milliseconds", "tokens", "requests", "replicas", "dollars", "seconds", "versions", "tenants")
_TEAMS = ("fraud", "recsys", "search", "support", "finance", "research", "risk", "ads")


def _sentence(rng: random.Random) -> str:
    form = rng.randrange(6)
    subject, verb, obj = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)
    if form == 0:
        return f"{subject} {verb} {obj} {rng.choice(_ADVERBS)}."
    if form == 1:
        return f"{subject} of team {rng.choice(_TEAMS)} {verb} {obj} in {rng.choice(_NUMBERS)} {rng.choice(_UNITS)}."
    if form == 2:
        return f"when {subject} {verb} {obj}, {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
    if form == 3:
        return f"does {subject} {verb.removesuffix('s')} {obj}? yes, {rng.choice(_ADVERBS)}."
    if form == 4:
        count = rng.choice(_NUMBERS)
        return f"team {rng.choice(_TEAMS)} spent {count} {rng.choice(_UNITS)} and {subject} {verb} {obj}."
    return f"{subject} {verb} {obj}, then {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."


def sentences(count: int, seed: int = TRAIN_SEED) -> Iterator[str]:
    """`count` sentences from the grammar, the same ones for the same seed."""
    rng = random.Random(seed)
    for _ in range(count):
        text = _sentence(rng)
        yield text[0].upper() + text[1:]


def corpus(count: int, seed: int = TRAIN_SEED) -> str:
    """The sentences as paragraphs of eight, one per line, the shape the models see."""
    lines = list(sentences(count, seed))
    return "\n".join(" ".join(lines[i : i + 8]) for i in range(0, len(lines), 8)) + "\n"
