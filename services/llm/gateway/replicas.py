"""Which replica of a model gets a request: prefix-aware when it helps, and never one whose breaker is open.

Prefix-aware routing. llama.cpp keeps the KV cache of the prompts it has seen (its prefix cache), so
a request whose prompt starts like an earlier one skips the prefill of that shared part: with a
1k-token system prompt that is most of the time to first token. The gateway remembers, per replica,
the prefixes it sent there recently (an LRU of `capacity` keys, about what the replica's cache holds)
and sends a request to the replica holding its prefix. The key is a hash of the prompt's leading text
(the system message, or the first `PREFIX_CHARS` characters), so requests sharing a system prompt
share a key. A prefix nobody holds goes to the least-loaded replica, among those the one holding the
fewest prefixes (so prefixes spread over the replicas' caches), which then holds it. Load wins
over affinity when the holder has `max_imbalance` more requests in flight than the least-loaded
replica: a hot prefix may then live on two replicas.

Circuit breakers. Each replica (or provider) has one: `failures` consecutive errors open it, and
for `reset_seconds` no request goes there; then one trial request is let through (half-open), and
its outcome closes or reopens the breaker.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["CircuitBreaker", "ReplicaSet", "prefix_key", "PREFIX_CHARS"]

PREFIX_CHARS = 2048


def prefix_key(system: str | None, prompt: str) -> str | None:
    """The cache-affinity key of a request: its system message, or the start of a long prompt."""
    lead = system if system else (prompt[:PREFIX_CHARS] if len(prompt) >= PREFIX_CHARS else None)
    return hashlib.blake2b(lead.encode(), digest_size=12).hexdigest() if lead else None


@dataclass
class CircuitBreaker:
    failures_to_open: int
    reset_seconds: float
    failures: int = 0
    opened_at: float | None = None
    trial_started: float | None = None  # half-open: when the one trial request was let through

    def allows(self, now: float) -> bool:
        if self.opened_at is None:
            return True
        if now - self.opened_at < self.reset_seconds:
            return False
        # a trial that never reported back (not used, or lost) does not keep the breaker shut for good
        if self.trial_started is None or now - self.trial_started >= self.reset_seconds:
            self.trial_started = now
            return True
        return False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.trial_started is not None else "open"

    def success(self) -> None:
        self.failures, self.opened_at, self.trial_started = 0, None, None

    def failure(self, now: float) -> None:
        self.failures += 1
        if self.trial_started is not None or self.failures >= self.failures_to_open:
            self.opened_at, self.trial_started = now, None


class ReplicaSet:
    """The replicas of one model, with their in-flight counts, prefixes held and breakers."""

    def __init__(
        self,
        urls: tuple[str, ...],
        *,
        breaker_failures: int = 3,
        breaker_reset_seconds: float = 10.0,
        capacity: int = 4,
        max_imbalance: int = 4,
        prefix_routing: bool = True,
        clock=time.monotonic,
    ):
        self.urls = urls
        self.in_flight = dict.fromkeys(urls, 0)
        self.breakers = {u: CircuitBreaker(breaker_failures, breaker_reset_seconds) for u in urls}
        self._held: dict[str, OrderedDict[str, None]] = {u: OrderedDict() for u in urls}
        self._capacity, self._max_imbalance = capacity, max_imbalance
        self._prefix_routing = prefix_routing
        self._clock = clock
        self._next = 0  # round-robin position, when prefix routing is off

    def order(self, key: str | None) -> list[str]:
        """Replicas to try, best first; those with an open breaker are left out."""
        now = self._clock()
        ready = [u for u in self.urls if self.breakers[u].allows(now)]
        if not ready:
            return []
        if not self._prefix_routing:  # round-robin: the baseline prefix routing is measured against
            start = self._next % len(self.urls)
            self._next += 1
            return [u for u in self.urls[start:] + self.urls[:start] if u in ready]
        if key is None:
            return self._by_load(ready)
        least = min(self.in_flight[u] for u in ready)
        holders = [u for u in ready if key in self._held[u] and self.in_flight[u] - least < self._max_imbalance]
        spread = sorted(ready, key=lambda u: (self.in_flight[u], len(self._held[u]), self.urls.index(u)))
        first = holders[0] if holders else spread[0]
        return [first] + [u for u in self._by_load(ready) if u != first]

    def _by_load(self, urls: list[str]) -> list[str]:
        return sorted(urls, key=lambda u: (self.in_flight[u], self.urls.index(u)))

    def remember(self, url: str, key: str | None) -> None:
        if key is None:
            return
        held = self._held[url]
        held[key] = None
        held.move_to_end(key)
        while len(held) > self._capacity:
            held.popitem(last=False)

    def start(self, url: str) -> None:
        self.in_flight[url] += 1

    def finish(self, url: str, ok: bool) -> None:
        self.in_flight[url] -= 1
        if ok:
            self.breakers[url].success()
        else:
            self.breakers[url].failure(self._clock())
            self._held[url].clear()  # a failed replica may have restarted with an empty cache
