"""The semantic cache: an embedding store on PostgreSQL with pgvector.

A prompt is embedded (all-MiniLM-L6-v2 on the platform's own llama.cpp, 384 dimensions) and looked
up by cosine similarity among the tenant's cached prompts on the same route. A neighbour at or above
`threshold` answers the request. What is embedded is the last user message (or the completion
prompt); everything else that shapes the answer (the system prompt, earlier turns, max_tokens,
temperature, stop...) must be identical, through `context_key`: a paraphrased question under the same
system prompt is a hit, the same question under another system prompt is not.

The threshold is a precision decision: a false hit serves one question's answer to another. It is
set from a labelled set of near-duplicate and different prompts (services/llm/semantic_pairs.py),
and `make bench` measures the precision of hits at it (ADR 0022). The table has an HNSW index, so a
lookup stays one index scan as the cache grows; rows older than the TTL are ignored and deleted.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

__all__ = ["SemanticCache", "context_key", "SCHEMA", "vector_literal"]

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS llm_semantic_cache (
    id bigserial PRIMARY KEY,
    tenant text NOT NULL,
    route text NOT NULL,
    context text NOT NULL,
    prompt text NOT NULL,
    embedding vector({dimensions}) NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS llm_semantic_cache_embedding
    ON llm_semantic_cache USING hnsw (embedding vector_cosine_ops);
"""

_LOOKUP = """
SELECT response, 1 - (embedding <=> %(v)s::vector) AS similarity, prompt
FROM llm_semantic_cache
WHERE tenant = %(tenant)s AND route = %(route)s AND context = %(context)s
  AND created_at > now() - make_interval(secs => %(ttl)s)
ORDER BY embedding <=> %(v)s::vector
LIMIT 1
"""


def context_key(endpoint: str, body: dict[str, Any]) -> tuple[str, str]:
    """(the text to embed, a hash of everything else that shapes the answer)."""
    rest = {k: v for k, v in body.items() if k not in ("stream", "stream_options", "user", "metadata")}
    if endpoint == "chat":
        messages = list(rest.pop("messages"))
        last = messages.pop() if messages and messages[-1].get("role") == "user" else None
        text = _text(last.get("content")) if last else ""
        rest["messages"] = messages
    else:
        text = str(rest.pop("prompt"))
    digest = hashlib.blake2b(orjson.dumps([endpoint, rest], option=orjson.OPT_SORT_KEYS), digest_size=16)
    return text, digest.hexdigest()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or () if isinstance(part, dict))


def vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{x:.6g}" for x in vector) + "]"


class SemanticCache:
    """Lookups and inserts on a psycopg async connection pool (the DSN from the gateway's environment)."""

    def __init__(self, dsn: str, threshold: float, ttl_seconds: int, dimensions: int = 384):
        self.dsn, self.threshold, self.ttl, self.dimensions = dsn, threshold, ttl_seconds, dimensions
        self._pool = None

    async def open(self) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(self.dsn, min_size=1, max_size=8, open=False)
        await self._pool.open(wait=True, timeout=30)
        async with self._pool.connection() as conn:
            await conn.execute(SCHEMA.format(dimensions=self.dimensions))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def lookup(
        self, tenant: str, route: str, context: str, vector: list[float]
    ) -> tuple[dict[str, Any] | None, float]:
        """(the cached response, or None below the threshold; the nearest neighbour's similarity)."""
        params = {"v": vector_literal(vector), "tenant": tenant, "route": route, "context": context, "ttl": self.ttl}
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_LOOKUP, params)).fetchone()
        if row is None:
            return None, 0.0
        response, similarity, _ = row
        return (response if similarity >= self.threshold else None), float(similarity)

    async def store(
        self, tenant: str, route: str, context: str, prompt: str, vector: list[float], response: dict[str, Any]
    ) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO llm_semantic_cache (tenant, route, context, prompt, embedding, response) "
                "VALUES (%s, %s, %s, %s, %s::vector, %s::jsonb)",
                (tenant, route, context, prompt, vector_literal(vector), orjson.dumps(response).decode()),
            )

    async def expire(self) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM llm_semantic_cache WHERE created_at <= now() - make_interval(secs => %s)", (self.ttl,)
            )
            return cursor.rowcount
