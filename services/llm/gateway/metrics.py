"""The gateway's Prometheus metrics (names in services/monitoring/metric_names.py).

Labels are bounded: tenants, routes and models come from the blueprint; a request naming an unknown
route is counted under route="unknown". Time to first token and time per output token are measured
at the gateway, so they include the backend's queueing, which is what a caller waits for.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.monitoring import metric_names as m

__all__ = ["GatewayMetrics"]

_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
_TPOT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            m.LLM_REQUESTS.removesuffix("_total"), "LLM requests", ["tenant", "route", "code"], registry=r
        )
        self.tokens = Counter(
            m.LLM_TOKENS.removesuffix("_total"),
            "tokens in and out",
            ["tenant", "route", "model", "direction"],
            registry=r,
        )
        self.spend = Counter(
            m.LLM_SPEND.removesuffix("_total"), "spend at showback prices", ["tenant", "route", "model"], registry=r
        )
        self.ttft = Histogram(m.LLM_TTFT, "time to first token", ["model"], buckets=_TTFT_BUCKETS, registry=r)
        self.tpot = Histogram(m.LLM_TPOT, "time per output token", ["model"], buckets=_TPOT_BUCKETS, registry=r)
        self.cache = Counter(
            m.LLM_CACHE_LOOKUPS.removesuffix("_total"), "cache lookups", ["cache", "result"], registry=r
        )
        self.fallbacks = Counter(
            m.LLM_FALLBACKS.removesuffix("_total"),
            "escalations to the next replica or model",
            ["route", "model", "reason"],
            registry=r,
        )
        self.refusals = Counter(
            m.LLM_BUDGET_REFUSALS.removesuffix("_total"),
            "requests refused over budget",
            ["tenant", "budget"],
            registry=r,
        )
        self.breaker_open = Gauge(
            m.LLM_BREAKER_OPEN, "1 while a replica's breaker is open", ["model", "replica"], registry=r
        )
        self.budget_used = Gauge(m.LLM_BUDGET_USED, "share of a budget used", ["tenant", "budget"], registry=r)
