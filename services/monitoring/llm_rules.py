"""Alerts for LLM serving (docs/llm.md), from the gateway's metrics (services/llm/gateway/metrics.py).

- LLMBackendUnavailable: a replica's circuit breaker has stayed open: the gateway routes around it,
  so callers see no errors while another replica or model answers, but capacity (and, when it was the
  cheapest model, money) is lost. Someone should look.
- LLMFallbackRatioHigh: over 10 % of a route's requests escalate (errors, timeouts, rejected answers):
  the cheap model fails its check too often, and the route costs what its expensive model costs.
- LLMBudgetExhausted: a tenant's requests are being refused over a budget: the team is told before it
  files a ticket about 429s.
- LLMSlowFirstToken: p95 time to first token of a model over 5 s for 10 minutes: queueing on too few
  replicas, or a prefix cache that no longer holds the hot system prompts.
"""

from __future__ import annotations

from typing import Any

from services.monitoring import metric_names as m

__all__ = [
    "llm_rules",
    "LLM_ALERTS",
    "ALERT_LLM_BACKEND",
    "ALERT_LLM_FALLBACKS",
    "ALERT_LLM_BUDGET",
    "ALERT_LLM_TTFT",
    "FALLBACK_RATIO",
    "TTFT_SECONDS",
]

ALERT_LLM_BACKEND = "LLMBackendUnavailable"
ALERT_LLM_FALLBACKS = "LLMFallbackRatioHigh"
ALERT_LLM_BUDGET = "LLMBudgetExhausted"
ALERT_LLM_TTFT = "LLMSlowFirstToken"
LLM_ALERTS = (ALERT_LLM_BACKEND, ALERT_LLM_FALLBACKS, ALERT_LLM_BUDGET, ALERT_LLM_TTFT)
FALLBACK_RATIO = 0.1
TTFT_SECONDS = 5


def llm_rules() -> list[dict[str, Any]]:
    return [
        {
            "alert": ALERT_LLM_BACKEND,
            "expr": f"max by (model, replica) ({m.LLM_BREAKER_OPEN}) == 1",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "LLM {{ $labels.model }}: replica {{ $labels.replica }} has failed for 5 minutes "
                "(circuit breaker open)",
                "description": "The gateway routes around it: callers are served by other replicas or models. "
                "The replica's log says why it fails.",
            },
        },
        {
            "alert": ALERT_LLM_FALLBACKS,
            "expr": (
                f"sum by (route) (rate({m.LLM_FALLBACKS}[10m]))"
                f" / sum by (route) (rate({m.LLM_REQUESTS}[10m])) > {FALLBACK_RATIO:g}"
            ),
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Route {{ $labels.route }}: {{ $value | humanizePercentage }} of requests escalate "
                "to another replica or model",
                "description": "Backend errors, timeouts or answers the route's check rejects: the route now "
                "costs what its dearer models cost. mlplat_llm_fallbacks_total's reason label says which.",
            },
        },
        {
            "alert": ALERT_LLM_BUDGET,
            "expr": f"sum by (tenant, budget) (increase({m.LLM_BUDGET_REFUSALS}[15m])) > 0",
            "labels": {"severity": "info"},
            "annotations": {
                "summary": "Tenant {{ $labels.tenant }} is over its {{ $labels.budget }} budget: requests get 429",
                "description": "Raise the budget in the blueprint (tenants[].llm.budgets) or ask the team to "
                "slow down.",
            },
        },
        {
            "alert": ALERT_LLM_TTFT,
            "expr": (
                f"histogram_quantile(0.95, sum by (model, le) (rate({m.LLM_TTFT}_bucket[10m]))) > {TTFT_SECONDS:g}"
            ),
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "LLM {{ $labels.model }}: p95 time to first token is {{ $value | humanizeDuration }}",
                "description": "Requests queue on too few replicas, or the prefix cache no longer holds the shared "
                "system prompts: add replicas or prompt cache (promptCacheMib).",
            },
        },
    ]
