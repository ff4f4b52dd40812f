"""Recording and alerting rules for the platform, generated from the blueprint's SLOs.

One rule file serves the cluster (ConfigMap) and standalone (a file), and every alert has a
`promtool test rules` unit test (tests/monitoring/). Alert names are stable identifiers:
Alertmanager routes and the training trigger match on them.

Latency uses multi-window, multi-burn-rate alerts (the Google SRE workbook, chapter 5): the
error budget is the share of requests allowed over the latency threshold; a page fires when the
budget burns 14.4x too fast over both 1h and 5m (2 % of a 30-day budget in an hour), a ticket
when it burns 6x over both 6h and 30m. The short window makes the alert stop soon after the
problem does.
"""

from __future__ import annotations

from typing import Any

from blueprints.schema import MonitoringSettings
from services.monitoring import metric_names as m
from services.monitoring.llm_rules import LLM_ALERTS, llm_rules
from services.registry import BACKUP_CRONJOB, BASE_BACKUP_CRONJOB

__all__ = [
    "alert_rules",
    "ALERT_SERVICE_DOWN",
    "ALERT_REGISTRY_DOWN",
    "ALERT_REGISTRY_UNREACHABLE",
    "ALERT_ERROR_RATIO",
    "ALERT_LATENCY_BURN_FAST",
    "ALERT_LATENCY_BURN_SLOW",
    "ALERT_DRIFT",
    "ALERT_NO_PREDICTIONS",
    "ALERT_QUOTA",
    "ALERT_BACKUP_MISSED",
    "BACKUP_CRONJOBS",
    "ALERT_BATCH_FAILED",
    "ALERT_BATCH_LATE",
    "ALERT_BATCH_REJECTS",
    "ALERT_TRAINING_FAILED",
    "ALERT_MATERIALIZATION_LATE",
    "ALERT_STALE_FEATURES",
    "STALE_FEATURE_RATIO",
    "feature_store_rules",
    "ALERT_COMPLIANCE_FAILING",
    "ALERT_COMPLIANCE_LATE",
    "compliance_rules",
    "ALL_ALERTS",
    "BURN_WINDOWS",
]

ALERT_SERVICE_DOWN = "ModelServerDown"
ALERT_REGISTRY_DOWN = "RegistryDown"
ALERT_REGISTRY_UNREACHABLE = "ModelServerRegistryUnreachable"
ALERT_ERROR_RATIO = "ModelErrorRatioAboveSLO"
ALERT_LATENCY_BURN_FAST = "ModelLatencyBudgetBurnFast"
ALERT_LATENCY_BURN_SLOW = "ModelLatencyBudgetBurnSlow"
ALERT_DRIFT = "ModelFeatureDrift"
ALERT_NO_PREDICTIONS = "ModelNoPredictions"
ALERT_QUOTA = "TenantQuotaNearlyExhausted"
ALERT_BACKUP_MISSED = "RegistryBackupMissed"
# The registry's backup CronJobs, in every registry's namespace.
BACKUP_CRONJOBS = (BACKUP_CRONJOB, BASE_BACKUP_CRONJOB)
ALERT_BATCH_FAILED = "BatchJobFailed"
ALERT_BATCH_LATE = "BatchJobLate"
ALERT_BATCH_REJECTS = "BatchRejectRatioHigh"
ALERT_TRAINING_FAILED = "TrainingRunFailed"
ALERT_MATERIALIZATION_LATE = "FeatureMaterializationLate"
ALERT_STALE_FEATURES = "FeatureStaleRatioHigh"
ALERT_COMPLIANCE_FAILING = "ComplianceControlFailing"
ALERT_COMPLIANCE_LATE = "ComplianceCheckLate"
# Above this share of a model's online lookups served stale (older than the view's TTL), it pages.
STALE_FEATURE_RATIO = 0.1
ALL_ALERTS = (
    ALERT_SERVICE_DOWN,
    ALERT_REGISTRY_DOWN,
    ALERT_REGISTRY_UNREACHABLE,
    ALERT_ERROR_RATIO,
    ALERT_LATENCY_BURN_FAST,
    ALERT_LATENCY_BURN_SLOW,
    ALERT_DRIFT,
    ALERT_NO_PREDICTIONS,
    ALERT_QUOTA,
    ALERT_BACKUP_MISSED,
    ALERT_BATCH_FAILED,
    ALERT_BATCH_LATE,
    ALERT_BATCH_REJECTS,
    ALERT_TRAINING_FAILED,
    ALERT_MATERIALIZATION_LATE,
    ALERT_STALE_FEATURES,
    ALERT_COMPLIANCE_FAILING,
    ALERT_COMPLIANCE_LATE,
    *LLM_ALERTS,
)

# (long window, short window, burn-rate factor, severity, alert)
BURN_WINDOWS = (
    ("1h", "5m", 14.4, "critical", ALERT_LATENCY_BURN_FAST),
    ("6h", "30m", 6.0, "warning", ALERT_LATENCY_BURN_SLOW),
)
_BY = "tenant, model"
_BACKUPS = f'cronjob=~"{"|".join(BACKUP_CRONJOBS)}"'
_BATCH = "tenant, model, batch_job"  # a batch job's Pushgateway group (services/batch/push.py)


def _slow_ratio(window: str, threshold: float) -> str:
    """Share of requests slower than the threshold over a window (from the histogram)."""
    return (
        f'1 - (sum by ({_BY}) (rate({m.REQUEST_DURATION}_bucket{{le="{threshold:g}"}}[{window}]))'
        f" / sum by ({_BY}) (rate({m.REQUEST_DURATION}_count[{window}])))"
    )


def recording_rules(settings: MonitoringSettings) -> list[dict[str, Any]]:
    slo = settings.slo
    rules: list[dict[str, Any]] = [
        {"record": "tenant_model:mlplat_requests:rate5m", "expr": f"sum by ({_BY}) (rate({m.REQUESTS}[5m]))"},
        {
            "record": "tenant_model:mlplat_request_errors:ratio_rate5m",
            "expr": f'sum by ({_BY}) (rate({m.REQUESTS}{{code=~"5.."}}[5m])) / sum by ({_BY}) (rate({m.REQUESTS}[5m]))',
        },
        {
            "record": "tenant_model:mlplat_request_duration_seconds:p99_5m",
            "expr": f"histogram_quantile(0.99, sum by ({_BY}, le) (rate({m.REQUEST_DURATION}_bucket[5m])))",
        },
    ]
    windows = sorted({w for long, short, *_ in BURN_WINDOWS for w in (long, short)}, key=_seconds)
    for window in windows:
        rules.append(
            {
                "record": f"tenant_model:mlplat_latency_slo_misses:ratio_rate{window}",
                "expr": _slow_ratio(window, slo.latency_seconds),
            }
        )
    return rules


def alerting_rules(settings: MonitoringSettings) -> list[dict[str, Any]]:
    slo = settings.slo
    error_budget = 1 - slo.latency_target
    rules: list[dict[str, Any]] = [
        {
            "alert": ALERT_SERVICE_DOWN,
            "expr": 'up{job="model-server"} == 0',
            "for": "2m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "Model server {{ $labels.instance }} of tenant {{ $labels.tenant }} is down",
                "description": "Prometheus has not been able to scrape it for 2 minutes.",
            },
        },
        {
            "alert": ALERT_REGISTRY_DOWN,
            "expr": 'up{job="registry-server"} == 0',
            "for": "2m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "Model registry {{ $labels.instance }} is down",
                "description": "Model servers keep serving loaded versions, but no alias can move.",
            },
        },
        {
            # The servers' own view: also catches a registry that is up but unreachable from a
            # tenant (NetworkPolicy, DNS), which RegistryDown (scraping the registry) cannot see.
            "alert": ALERT_REGISTRY_UNREACHABLE,
            "expr": f"min by (tenant, instance) ({m.REGISTRY_UP}) == 0",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Model server {{ $labels.instance }} of tenant {{ $labels.tenant }} "
                "cannot reach its registry (degraded)",
                "description": "It keeps serving the versions it has loaded, but promotions and rollbacks "
                "are not followed. If RegistryDown is not firing, check the path: the tenant's "
                "allow-registry NetworkPolicy and DNS.",
            },
        },
        {
            "alert": ALERT_ERROR_RATIO,
            "expr": f"tenant_model:mlplat_request_errors:ratio_rate5m > {1 - slo.availability:g}",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "{{ $labels.tenant }}/{{ $labels.model }}: {{ $value | humanizePercentage }} of "
                f"requests fail (SLO allows {1 - slo.availability:.2%})",
            },
        },
    ]
    for long, short, factor, severity, alert in BURN_WINDOWS:
        threshold = factor * error_budget
        rules.append(
            {
                "alert": alert,
                "expr": (
                    f"tenant_model:mlplat_latency_slo_misses:ratio_rate{long} > {threshold:g}"
                    f" and tenant_model:mlplat_latency_slo_misses:ratio_rate{short} > {threshold:g}"
                ),
                "labels": {"severity": severity},
                "annotations": {
                    "summary": "{{ $labels.tenant }}/{{ $labels.model }}: "
                    f"latency error budget burning {factor:g}x too fast (more than {threshold:.1%} "
                    f"of requests over {slo.latency_seconds:g}s over {long} and {short})",
                },
            }
        )
    rules += [
        {
            "alert": ALERT_DRIFT,
            "expr": f"max by ({_BY}, feature) ({m.FEATURE_DRIFT}) > {slo.drift_psi:g}",
            "for": "1m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.tenant }}/{{ $labels.model }}: feature {{ $labels.feature }} drifted "
                f'(PSI {{{{ $value | printf "%.2f" }}}} > {slo.drift_psi:g})',
                "description": "Live inputs no longer look like the training data; retraining is triggered.",
            },
        },
        {
            "alert": ALERT_NO_PREDICTIONS,
            "expr": (
                f"sum by ({_BY}) (rate({m.REQUESTS}[10m])) == 0"
                f" and sum by ({_BY}) (rate({m.REQUESTS}[10m] offset 1h)) > 0"
            ),
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.tenant }}/{{ $labels.model }} served traffic an hour ago "
                "and none for the last 10 minutes"
            },
        },
        {
            "alert": ALERT_QUOTA,
            "expr": (
                'max by (namespace, resource) (kube_resourcequota{type="used"})'
                ' / max by (namespace, resource) (kube_resourcequota{type="hard"} > 0) > 0.9'
            ),
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Tenant {{ $labels.namespace }} uses {{ $value | humanizePercentage }} "
                "of its {{ $labels.resource }} quota"
            },
        },
        {
            # The RPO holds only while backups succeed. The schedule's interval is read from the
            # CronJob itself (next run - last run), so one rule fits a nightly and a 15-minute backup:
            # no success for an interval plus the job's 10-minute deadline means a run was missed.
            "alert": ALERT_BACKUP_MISSED,
            "expr": (
                f"(time() - kube_cronjob_status_last_successful_time{{{_BACKUPS}}})"
                f" > (kube_cronjob_next_schedule_time{{{_BACKUPS}}}"
                f" - kube_cronjob_status_last_schedule_time{{{_BACKUPS}}}) + 600"
            ),
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "Registry backup {{ $labels.namespace }}/{{ $labels.cronjob }} has not succeeded "
                "for {{ $value | humanizeDuration }}",
                "description": "A scheduled backup was missed: the registry's RPO no longer holds. "
                "`kubectl -n {{ $labels.namespace }} get jobs` and the failed job's log say why.",
            },
        },
    ]
    return rules + batch_and_training_rules() + feature_store_rules() + compliance_rules() + llm_rules()


def batch_and_training_rules() -> list[dict[str, Any]]:
    """Batch jobs push what their last run did (the Pushgateway keeps it); the training trigger exports
    what its runs did. Each alert reads a gauge of the last run, so it fires as soon as a run goes wrong
    and stops with the next good one."""
    return [
        {
            "alert": ALERT_BATCH_FAILED,
            "expr": f"max by ({_BATCH}) ({m.BATCH_LAST_RUN_SUCCEEDED}) == 0",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Batch job {{ $labels.batch_job }} ({{ $labels.tenant }}/{{ $labels.model }}) failed its "
                "last run and published no output",
                "description": "Its log says why; a run over its reject ratio wrote the reasons to the rejects file.",
            },
        },
        {
            "alert": ALERT_BATCH_LATE,
            "expr": (
                f"time() - max by ({_BATCH}) ({m.BATCH_LAST_SUCCESS})"
                f" > 2 * max by ({_BATCH}) ({m.BATCH_SCHEDULE_INTERVAL})"
            ),
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Batch job {{ $labels.batch_job }} ({{ $labels.tenant }}/{{ $labels.model }}) has not "
                "succeeded for {{ $value | humanizeDuration }}, over twice its schedule",
                "description": "Its runs fail, or are not started at all (a suspended CronJob, a stopped supervisor).",
            },
        },
        {
            "alert": ALERT_BATCH_REJECTS,
            "expr": (
                f"max by ({_BATCH}) ({m.BATCH_REJECT_RATIO}) > 0.5 * max by ({_BATCH}) ({m.BATCH_MAX_REJECT_RATIO})"
            ),
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Batch job {{ $labels.batch_job }} ({{ $labels.tenant }}/{{ $labels.model }}) rejected "
                "{{ $value | humanizePercentage }} of its rows, over half its limit",
                "description": "The input no longer matches the model's signature as it did; at the limit runs fail.",
            },
        },
        {
            "alert": ALERT_TRAINING_FAILED,
            "expr": f"max by ({_BY}) ({m.TRAINING_LAST_RUN_SUCCEEDED}) == 0",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "The last training run of {{ $labels.tenant }}/{{ $labels.model }} failed",
                "description": "Nothing served changed; the trigger's audit entry names the run and its log.",
            },
        },
    ]


def feature_store_rules() -> list[dict[str, Any]]:
    """The feature store (docs/features.md): each materialization run pushes when it last succeeded and
    its schedule's longest gap; the model servers count their online lookups by result."""
    lookups = m.FEATURE_LOOKUPS
    return [
        {
            "alert": ALERT_MATERIALIZATION_LATE,
            "expr": (
                f"time() - max by (tenant) ({m.MATERIALIZATION_LAST_SUCCESS})"
                f" > 2 * max by (tenant) ({m.MATERIALIZATION_INTERVAL})"
            ),
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "The feature store of tenant {{ $labels.tenant }} was last materialized "
                "{{ $value | humanizeDuration }} ago, over twice its schedule",
                "description": "Online features age: past their TTL they are missing (404 or the model's defaults) "
                "or, where a model allows it, served stale. The materialization's log says why.",
            },
        },
        {
            "alert": ALERT_STALE_FEATURES,
            "expr": (
                f'sum by (tenant, model) (rate({lookups}{{result="stale"}}[10m]))'
                f" / sum by (tenant, model) (rate({lookups}[10m])) > {STALE_FEATURE_RATIO:g}"
            ),
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.tenant }}/{{ $labels.model }}: {{ $value | humanizePercentage }} of online "
                "feature lookups are older than their TTL",
                "description": "The model serves them (it allows stale features) and its predictions use old "
                "values. Is the materialization late (FeatureMaterializationLate)?",
            },
        },
    ]


def compliance_rules() -> list[dict[str, Any]]:
    """The scheduled compliance check (ADR 0024) pushes one series per control and status each run; an
    accepted gap is status "accepted", so only a gap nobody accepted (or whose acceptance ended) pages."""
    status = m.COMPLIANCE_CONTROL_STATUS
    return [
        {
            "alert": ALERT_COMPLIANCE_FAILING,
            "expr": f'max by (blueprint, framework, control) ({status}{{status="fail"}}) == 1',
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Compliance control {{ $labels.control }} fails on {{ $labels.blueprint }}",
                "description": "The last compliance check found a gap nobody accepted. The check's report names "
                "the object and the fix: `kubectl -n mlops-system logs job/<the last compliance-check job>`, "
                "or `mlplat compliance report --framework {{ $labels.framework }}`.",
            },
        },
        {
            "alert": ALERT_COMPLIANCE_LATE,
            "expr": (
                f"time() - max by (blueprint) ({m.COMPLIANCE_LAST_RUN})"
                f" > 2 * max by (blueprint) ({m.COMPLIANCE_INTERVAL})"
            ),
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "The compliance check of {{ $labels.blueprint }} last reported "
                "{{ $value | humanizeDuration }} ago, over twice its schedule",
                "description": "Its status is stale: the CronJob fails or does not run (is the OPA server up?).",
            },
        },
    ]


def alert_rules(settings: MonitoringSettings | None = None) -> dict[str, Any]:
    settings = settings or MonitoringSettings()
    return {
        "groups": [
            {"name": "mlops-platform.recording", "rules": recording_rules(settings)},
            {"name": "mlops-platform.alerts", "rules": alerting_rules(settings)},
        ]
    }


def _seconds(window: str) -> int:
    return int(window[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[window[-1]]
