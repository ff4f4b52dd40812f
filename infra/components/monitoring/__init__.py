"""Monitoring: Prometheus, Alertmanager, a Pushgateway, kube-state-metrics and Grafana in their own namespace.

Plain Deployments with generated config (no Prometheus Operator: ADR 0004), one sub-component each, in
this package: `Monitoring` only creates the namespace and wires the parts together (Alertmanager's
webhooks, the registries Prometheus signs in to, the Prometheus URL Grafana reads). The config, the rules
and the dashboards come from `services.monitoring`, the same code standalone uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import MONITORING_NAMESPACE, Ports, selector_labels, standard_labels
from blueprints.schema import MonitoringSettings
from infra.components.monitoring.alertmanager import Alertmanager, AlertmanagerArgs
from infra.components.monitoring.grafana import Grafana, GrafanaArgs
from infra.components.monitoring.kube_state_metrics import KubeStateMetrics, KubeStateMetricsArgs
from infra.components.monitoring.prometheus import Prometheus, PrometheusArgs
from infra.components.monitoring.pushgateway import Pushgateway, PushgatewayArgs
from infra.components.monitoring.workload import INSTANCE
from infra.k8s import metadata

__all__ = ["Monitoring", "MonitoringArgs", "prometheus_selector", "pushgateway_selector", "pushgateway_url"]


def prometheus_selector() -> dict[str, str]:
    return selector_labels("prometheus", INSTANCE)


def pushgateway_selector() -> dict[str, str]:
    return selector_labels("pushgateway", INSTANCE)


def pushgateway_url(namespace: str = MONITORING_NAMESPACE) -> str:
    """Where batch jobs push their metrics."""
    return f"http://pushgateway.{namespace}.svc:{Ports.PUSHGATEWAY}"


@dataclass(frozen=True)
class MonitoringArgs:
    settings: MonitoringSettings
    namespace: str = MONITORING_NAMESPACE
    alert_webhooks: dict[str, str] = field(default_factory=dict)  # alert name -> URL Alertmanager posts to
    # registry instance -> its namespace: Prometheus signs in to each registry's /metrics (ADR 0017)
    registries: dict[str, str] = field(default_factory=dict)
    mirror: str | None = None  # platform.imageMirror: pull every image from it
    grafana: bool = True  # False where Grafana's image can be neither pulled nor built (docs/air-gapped.md)


class Monitoring(pulumi.ComponentResource):
    """The monitoring namespace and its five parts."""

    prometheus_url: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Monitoring", name, None, opts)
        ns, settings = args.namespace, args.settings
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=metadata(
                ns,
                None,
                {
                    **standard_labels("monitoring", INSTANCE, "namespace"),
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        part = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        prometheus = Prometheus(
            f"{name}-prometheus",
            PrometheusArgs(ns, settings, registries=args.registries, mirror=args.mirror),
            opts=part,
        )
        Alertmanager(
            f"{name}-alertmanager", AlertmanagerArgs(ns, settings, args.alert_webhooks, args.mirror), opts=part
        )
        Pushgateway(f"{name}-pushgateway", PushgatewayArgs(ns, args.mirror), opts=part)
        KubeStateMetrics(f"{name}-kube-state-metrics", KubeStateMetricsArgs(ns, args.mirror), opts=part)
        if args.grafana:
            Grafana(f"{name}-grafana", GrafanaArgs(ns, settings, prometheus.url, args.mirror), opts=part)
        self.prometheus_url = prometheus.url
        self.register_outputs({"prometheus_url": prometheus.url})
