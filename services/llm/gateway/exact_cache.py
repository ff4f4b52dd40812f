"""The exact response cache: the same request from the same tenant gets the stored answer.

The key is a hash of the tenant, the endpoint, the route and the request body without the fields that
do not change the answer (`stream`, `stream_options`, `user`, `metadata`), with keys sorted, so a
streamed and a plain request share an entry. Tenants never share entries: an answer is cached for
the tenant that paid for it (isolation over hit ratio, ADR 0022). Entries live `ttl` seconds in an
LRU of `max_entries`; a hit is a dictionary lookup and the stored bytes, which is why it answers in
well under a millisecond inside the gateway.

A sampled answer (temperature > 0) is cached too, as LiteLLM's cache does: a cache makes a sampled
request deterministic for its TTL, which a caller who wants variety turns off by passing a `seed`
that changes, or asks the platform team for a route without the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import orjson

__all__ = ["ExactCache", "request_key", "IGNORED_FIELDS"]

IGNORED_FIELDS = frozenset({"stream", "stream_options", "user", "metadata"})


def request_key(tenant: str, endpoint: str, body: dict[str, Any]) -> str:
    kept = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    canonical = orjson.dumps([tenant, endpoint, kept], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


class ExactCache:
    def __init__(self, ttl_seconds: float, max_entries: int, clock=time.monotonic):
        self._entries: OrderedDict[str, tuple[float, dict[str, Any], bytes]] = OrderedDict()
        self._ttl, self._max, self._clock = ttl_seconds, max_entries, clock

    def get(self, key: str) -> tuple[dict[str, Any], bytes] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] > self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1], entry[2]

    def put(self, key: str, response: dict[str, Any]) -> None:
        self._entries[key] = (self._clock(), response, orjson.dumps(response))
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
