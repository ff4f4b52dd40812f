"""Grafana dashboards as data: a platform overview, per-tenant serving, model quality and drift,
batch scoring with continuous training, the feature store, and LLM serving.

Panels are built from a small `Panel` description so every query sits in one readable list per
dashboard. `tenant` and `model` are dashboard variables (label values from Prometheus), so one
dashboard serves every tenant. In e2e, every panel's queries run against a real Prometheus
(`panel_queries()` lists them with the variables substituted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.monitoring import metric_names as m

__all__ = ["grafana_dashboards", "panel_queries", "Panel", "KEY_PANELS"]

_DS = {"type": "prometheus", "uid": "prometheus"}
_SEL = 'tenant=~"$tenant", model=~"$model"'


@dataclass(frozen=True)
class Panel:
    title: str
    exprs: tuple[str, ...]
    unit: str = "short"
    kind: str = "timeseries"
    legend: str = ""


OVERVIEW = (
    Panel("Scrape targets up", ("sum by (job) (up)",)),
    Panel("Requests per second by tenant", (f"sum by (tenant) (rate({m.REQUESTS}[1m]))",), "reqps"),
    Panel(
        "Error ratio by tenant (5xx)",
        (f'sum by (tenant) (rate({m.REQUESTS}{{code=~"5.."}}[5m])) / sum by (tenant) (rate({m.REQUESTS}[5m]))',),
        "percentunit",
    ),
    Panel(
        "p99 latency by tenant",
        (f"histogram_quantile(0.99, sum by (tenant, le) (rate({m.REQUEST_DURATION}_bucket[5m])))",),
        "s",
    ),
    Panel("Firing alerts", ('sum by (alertname) (ALERTS{alertstate="firing"})',)),
    Panel("Worst feature drift (PSI) by model", (f"max by (tenant, model) ({m.FEATURE_DRIFT})",)),
)

SERVING = (
    Panel(
        "Requests per second by variant",
        (f"sum by (variant) (rate({m.REQUESTS}{{{_SEL}}}[1m]))",),
        "reqps",
        legend="{{variant}}",
    ),
    Panel(
        "Responses by status code", (f"sum by (code) (rate({m.REQUESTS}{{{_SEL}}}[1m]))",), "reqps", legend="{{code}}"
    ),
    Panel(
        "Latency percentiles",
        tuple(
            f"histogram_quantile({q}, sum by (le) (rate({m.REQUEST_DURATION}_bucket{{{_SEL}}}[5m])))"
            for q in ("0.5", "0.9", "0.99")
        ),
        "s",
    ),
    Panel(
        "Inference time p99 by variant",
        (f"histogram_quantile(0.99, sum by (variant, le) (rate({m.INFERENCE_DURATION}_bucket{{{_SEL}}}[5m])))",),
        "s",
        legend="{{variant}}",
    ),
    Panel(
        "Traffic split (share of requests per variant)",
        (
            f"sum by (variant) (rate({m.REQUESTS}{{{_SEL}}}[5m])) / ignoring(variant) group_left "
            f"sum(rate({m.REQUESTS}{{{_SEL}}}[5m]))",
        ),
        "percentunit",
        legend="{{variant}}",
    ),
    Panel("In-flight requests", (f"sum({m.IN_FLIGHT}{{{_SEL}}})",)),
)

QUALITY = (
    Panel(
        "Feature drift (PSI) per feature", (f"max by (feature) ({m.FEATURE_DRIFT}{{{_SEL}}})",), legend="{{feature}}"
    ),
    Panel(
        "Prediction distribution",
        (f"sum by (variant, prediction) (rate({m.PREDICTIONS}{{{_SEL}}}[5m]))",),
        "reqps",
        legend="{{variant}} {{prediction}}",
    ),
    Panel(
        "Client errors (4xx: bad inputs)",
        (f'sum by (code) (rate({m.REQUESTS}{{{_SEL}, code=~"4.."}}[5m]))',),
        "reqps",
        legend="{{code}}",
    ),
)

_JOB = "tenant, model, batch_job"

# Batch jobs push their last run to the Pushgateway (services/batch/push.py); the training trigger
# exports its runs (services/training/service.py). One panel per alert of services/monitoring/rules.py.
BATCH_AND_TRAINING = (
    Panel(
        "Batch jobs whose last run failed (0 = failed)",
        (f"min by ({_JOB}) ({m.BATCH_LAST_RUN_SUCCEEDED})",),
        legend="{{batch_job}}",
    ),
    Panel(
        "Hours since the last successful batch run, and the late threshold (2x schedule)",
        (
            f"(time() - max by ({_JOB}) ({m.BATCH_LAST_SUCCESS})) / 3600",
            f"2 * max by ({_JOB}) ({m.BATCH_SCHEDULE_INTERVAL}) / 3600",
        ),
        "h",
        legend="{{batch_job}}",
    ),
    Panel(
        "Batch reject ratio and the job's limit",
        (f"max by ({_JOB}) ({m.BATCH_REJECT_RATIO})", f"max by ({_JOB}) ({m.BATCH_MAX_REJECT_RATIO})"),
        "percentunit",
        legend="{{batch_job}}",
    ),
    Panel("Batch rows per run", (f"sum by (batch_job, status) ({m.BATCH_ROWS})",), legend="{{batch_job}} {{status}}"),
    Panel("Batch run duration", (f"max by ({_JOB}) ({m.BATCH_DURATION})",), "s", legend="{{batch_job}}"),
    Panel(
        "Batch feature drift (PSI) per feature",
        (f"max by (batch_job, feature) ({m.BATCH_FEATURE_DRIFT})",),
        legend="{{batch_job}} {{feature}}",
    ),
    Panel(
        "Training runs by outcome",
        (f"sum by (tenant, model, outcome) ({m.TRAINING_RUNS})",),
        legend="{{model}} {{outcome}}",
    ),
    Panel(
        "Last training run succeeded (0 = failed)",
        (f"min by (tenant, model) ({m.TRAINING_LAST_RUN_SUCCEEDED})",),
        legend="{{tenant}}/{{model}}",
    ),
    Panel(
        "Training triggers: runs started and triggers skipped (a run was in progress)",
        (f"sum by (model, trigger, decision) ({m.TRAINING_TRIGGERS})",),
        legend="{{model}} {{trigger}} {{decision}}",
    ),
    Panel(
        "Retrained versions through the gate",
        (f"sum by (model, decision) ({m.TRAINING_PROMOTIONS})",),
        legend="{{model}} {{decision}}",
    ),
)

# The feature store (docs/features.md): the model servers' lookups and each tenant's materialization.
# One panel per alert of services/monitoring/rules.py feature_store_rules.
FEATURES = (
    Panel(
        "Feature fetch time p99 by model",
        (f"histogram_quantile(0.99, sum by (tenant, model, le) (rate({m.FEATURE_FETCH_DURATION}_bucket[5m])))",),
        "s",
        legend="{{tenant}}/{{model}}",
    ),
    Panel(
        "Online feature lookups by result (found, missing, stale)",
        (f"sum by (model, feature_view, result) (rate({m.FEATURE_LOOKUPS}[5m]))",),
        "reqps",
        legend="{{model}} {{feature_view}} {{result}}",
    ),
    Panel(
        "Stale share of online lookups (alert above 10 %)",
        (
            f'sum by (tenant, model) (rate({m.FEATURE_LOOKUPS}{{result="stale"}}[10m])) '
            f"/ sum by (tenant, model) (rate({m.FEATURE_LOOKUPS}[10m]))",
        ),
        "percentunit",
        legend="{{tenant}}/{{model}}",
    ),
    Panel(
        "Materialization lag: hours since the last successful run, and the late threshold (2x schedule)",
        (
            f"(time() - max by (tenant) ({m.MATERIALIZATION_LAST_SUCCESS})) / 3600",
            f"2 * max by (tenant) ({m.MATERIALIZATION_INTERVAL}) / 3600",
        ),
        "h",
        legend="{{tenant}}",
    ),
    Panel(
        "Last materialization succeeded (0 = failed)",
        (f"min by (tenant) ({m.MATERIALIZATION_LAST_RUN_SUCCEEDED})",),
        legend="{{tenant}}",
    ),
    Panel("Materialization run time", (f"max by (tenant) ({m.MATERIALIZATION_DURATION})",), "s", legend="{{tenant}}"),
)

# LLM serving (docs/llm.md): the gateway's tokens, latency, caches, fallbacks and budgets. One panel
# per alert of services/monitoring/llm_rules.py reads the metric the alert reads.
LLM = (
    Panel(
        "LLM tokens per second by tenant, route and model",
        (f"sum by (tenant, route, model, direction) (rate({m.LLM_TOKENS}[5m]))",),
        legend="{{tenant}} {{route}} {{model}} {{direction}}",
    ),
    Panel(
        "LLM spend per hour by tenant (showback prices)",
        (f"sum by (tenant) (rate({m.LLM_SPEND}[1h])) * 3600",),
        legend="{{tenant}}",
    ),
    Panel(
        "Time to first token p50 and p95 by model",
        tuple(f"histogram_quantile({q}, sum by (model, le) (rate({m.LLM_TTFT}_bucket[10m])))" for q in ("0.5", "0.95")),
        "s",
        legend="{{model}}",
    ),
    Panel(
        "Time per output token p50 by model",
        (f"histogram_quantile(0.5, sum by (model, le) (rate({m.LLM_TPOT}_bucket[10m])))",),
        "s",
        legend="{{model}}",
    ),
    Panel(
        "Cache hit ratio (exact and semantic)",
        (
            f'sum by (cache) (rate({m.LLM_CACHE_LOOKUPS}{{result="hit"}}[10m])) '
            f"/ sum by (cache) (rate({m.LLM_CACHE_LOOKUPS}[10m]))",
        ),
        "percentunit",
        legend="{{cache}}",
    ),
    Panel(
        "Fallback share of requests by route, and fallbacks by reason",
        (
            f"sum by (route) (rate({m.LLM_FALLBACKS}[10m])) / sum by (route) (rate({m.LLM_REQUESTS}[10m]))",
            f"sum by (route, model, reason) (rate({m.LLM_FALLBACKS}[10m]))",
        ),
        legend="{{route}} {{model}} {{reason}}",
    ),
    Panel(
        "Budget refusals (15m) and budget used by tenant",
        (
            f"sum by (tenant, budget) (increase({m.LLM_BUDGET_REFUSALS}[15m]))",
            f"max by (tenant, budget) ({m.LLM_BUDGET_USED})",
        ),
        legend="{{tenant}} {{budget}}",
    ),
    Panel(
        "Replicas with an open circuit breaker",
        (f"max by (model, replica) ({m.LLM_BREAKER_OPEN})",),
        legend="{{model}} {{replica}}",
    ),
    Panel(
        "LLM requests by tenant and status",
        (f"sum by (tenant, code) (rate({m.LLM_REQUESTS}[5m]))",),
        "reqps",
        legend="{{tenant}} {{code}}",
    ),
)

# Panels that must return data once the demo has sent traffic and retrained a model (checked in e2e).
KEY_PANELS = (
    "Requests per second by tenant",
    "Requests per second by variant",
    "Latency percentiles",
    "Feature drift (PSI) per feature",
    "Training runs by outcome",
)


def _variables() -> list[dict[str, Any]]:
    def variable(name: str, query: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "query",
            "datasource": _DS,
            "query": query,
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "current": {"text": "All", "value": "$__all"},
        }

    return [
        variable("tenant", f"label_values({m.REQUESTS}, tenant)"),
        variable("model", f'label_values({m.REQUESTS}{{tenant=~"$tenant"}}, model)'),
    ]


def _dashboard(uid: str, title: str, panels: tuple[Panel, ...], *, variables: bool) -> dict[str, Any]:
    rendered = []
    for index, panel in enumerate(panels):
        rendered.append(
            {
                "id": index + 1,
                "title": panel.title,
                "type": panel.kind,
                "datasource": _DS,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "datasource": _DS, "legendFormat": panel.legend}
                    for i, expr in enumerate(panel.exprs)
                ],
            }
        )
    return {
        "uid": uid,
        "title": title,
        "tags": ["mlops-platform"],
        "schemaVersion": 39,
        "editable": False,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "10s",
        "templating": {"list": _variables() if variables else []},
        "panels": rendered,
    }


_BOARDS = {
    "platform-overview.json": ("mlops-overview", "MLOps platform: overview", OVERVIEW, False),
    "tenant-serving.json": ("mlops-serving", "MLOps platform: serving per tenant", SERVING, True),
    "model-quality.json": ("mlops-quality", "MLOps platform: model quality and drift", QUALITY, True),
    "batch-and-training.json": (
        "mlops-batch-training",
        "MLOps platform: batch scoring and continuous training",
        BATCH_AND_TRAINING,
        False,
    ),
    "feature-store.json": ("mlops-features", "MLOps platform: feature store", FEATURES, False),
    "llm-serving.json": ("mlops-llm", "MLOps platform: LLM serving", LLM, False),
}


def grafana_dashboards() -> dict[str, dict[str, Any]]:
    """Dashboards by file name, ready for Grafana's file provisioning."""
    return {file: _dashboard(uid, title, panels, variables=v) for file, (uid, title, panels, v) in _BOARDS.items()}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL with variables set to match everything)."""
    out = []
    for file, (_, _, panels, _) in _BOARDS.items():
        for panel in panels:
            for expr in panel.exprs:
                out.append((file, panel.title, expr.replace('"$tenant"', '".*"').replace('"$model"', '".*"')))
    return out
