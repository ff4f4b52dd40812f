"""Prometheus, Alertmanager and Grafana configuration, as data.

Two shapes of the same config:
- `kubernetes`: Prometheus discovers pods through the Kubernetes API and keeps those annotated
  `prometheus.io/scrape: "true"` (the model servers and the registry), relabelled with their
  tenant and model labels;
- `static`: the same jobs with fixed localhost targets, for standalone.
Job names and target labels are identical in both, so rules and dashboards work unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from blueprints.naming import LABEL_MODEL, LABEL_TENANT
from services.registry.access import MONITORING

__all__ = [
    "prometheus_config",
    "alertmanager_config",
    "grafana_datasources",
    "RULES_FILE",
    "SCRAPE_INTERVAL",
]

RULES_FILE = "rules.yml"
REGISTRY_JOB = "registry-server"  # the registries' pods (their component label) and the standalone job
SCRAPE_INTERVAL = "15s"


def _label_name(label: str) -> str:
    """Kubernetes label -> the name Prometheus' service discovery gives it."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in label)


def prometheus_config(
    mode: Literal["kubernetes", "static"],
    *,
    alertmanagers: list[str],
    rules_dir: str,
    static_targets: dict[str, list[dict[str, Any]]] | None = None,
    kube_state_metrics: str | None = None,
    pushgateway: str | None = None,
    registry_passwords: dict[str, str] | None = None,
) -> dict[str, Any]:
    """prometheus.yml. `static_targets` maps a job to [{"targets": [...], "labels": {...}}]; `pushgateway`
    is the host:port of the Pushgateway batch jobs push to, scraped in both modes.

    Registries run MLflow's authentication app, so their /metrics needs a sign-in: Prometheus scrapes
    them as `platform.monitoring` (a user without any grant, ADR 0017). `registry_passwords` maps
    where a registry is (kubernetes: its namespace; static: ignored, one registry) to the file holding
    that user's password there."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [f"{rules_dir.rstrip('/')}/{RULES_FILE}"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]},
        "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]}],
    }
    registries = registry_passwords or {}
    if mode == "kubernetes":
        component = _label_name("app.kubernetes.io/component")
        # the registries' pods are scraped by a job of their own, signed in
        others = [{"source_labels": [component], "action": "drop", "regex": REGISTRY_JOB}] if registries else []
        config["scrape_configs"].append(
            {
                "job_name": "platform-pods",
                "kubernetes_sd_configs": [{"role": "pod"}],
                "relabel_configs": [*_pod_relabels()[:1], *others, *_pod_relabels()[1:]],
            }
        )
        for namespace, password_file in sorted(registries.items()):
            keep = {"source_labels": [component], "action": "keep", "regex": REGISTRY_JOB}
            config["scrape_configs"].append(
                {
                    "job_name": f"{REGISTRY_JOB}-{namespace}",
                    "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
                    "basic_auth": {"username": MONITORING, "password_file": password_file},
                    "relabel_configs": [*_pod_relabels()[:1], keep, *_pod_relabels()[1:]],
                }
            )
        if kube_state_metrics:
            # Object-state metrics (quota usage) carry the object's own `namespace` label: keep it.
            config["scrape_configs"].append(
                {
                    "job_name": "kube-state-metrics",
                    "honor_labels": True,
                    "static_configs": [{"targets": [kube_state_metrics]}],
                }
            )
    else:
        for job, groups in sorted((static_targets or {}).items()):
            scrape: dict[str, Any] = {"job_name": job, "static_configs": groups}
            if job == REGISTRY_JOB and registries:
                scrape["basic_auth"] = {"username": MONITORING, "password_file": next(iter(registries.values()))}
            config["scrape_configs"].append(scrape)
    if pushgateway:
        # Pushed metrics carry the job, tenant and model labels of whoever pushed them: keep those
        # (honor_labels), as the Pushgateway's documentation asks, instead of the gateway's own.
        config["scrape_configs"].append(
            {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": [pushgateway]}]}
        )
    return config


def _pod_relabels() -> list[dict[str, Any]]:
    """Keep pods annotated for scraping; take the path and port from their annotations; label the
    series with namespace, pod, job (the component), tenant and model."""
    return [
        {
            "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
            "action": "keep",
            "regex": "true",
        },
        {
            "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
            "action": "replace",
            "target_label": "__metrics_path__",
            "regex": "(.+)",
        },
        {
            "source_labels": ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
            "action": "replace",
            "regex": r"([^:]+)(?::\d+)?;(\d+)",
            "replacement": "$1:$2",
            "target_label": "__address__",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": [_label_name("app.kubernetes.io/component")], "target_label": "job"},
        {"source_labels": [_label_name(LABEL_TENANT)], "target_label": "tenant"},
        {"source_labels": [_label_name(LABEL_MODEL)], "target_label": "model_deployment"},
    ]


def alertmanager_config(webhook_urls: dict[str, str] | None = None) -> dict[str, Any]:
    """Alertmanager routes: everything to a default receiver; named alerts to platform webhooks."""
    receivers: list[dict[str, Any]] = [{"name": "default"}]
    routes: list[dict[str, Any]] = []
    for alertname, url in sorted((webhook_urls or {}).items()):
        receiver = f"webhook-{alertname.lower()}"
        receivers.append({"name": receiver, "webhook_configs": [{"url": url, "send_resolved": True}]})
        routes.append({"matchers": [f'alertname="{alertname}"'], "receiver": receiver})
    return {
        "route": {
            "receiver": "default",
            "group_by": ["alertname", "tenant", "model"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "receivers": receivers,
    }


def grafana_datasources(prometheus_url: str) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": "prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": True,
                "editable": False,
            }
        ],
    }
