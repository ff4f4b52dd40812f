"""Monitoring: Prometheus, Alertmanager, Grafana and a Pushgateway in their own namespace.

Plain Deployments with generated config (no Prometheus Operator: see the ADR). Prometheus finds
scrape targets through the Kubernetes API (pods annotated `prometheus.io/scrape`), so it gets a
ClusterRole to list and watch pods, and nothing more. The config, the rules and the dashboards
come from `services.monitoring`, the same code standalone uses.

Batch jobs end before any scrape could see them, so they push their metrics to a Pushgateway, which
Prometheus scrapes with `honor_labels` (the pushed job, tenant and model labels are kept). Alerts
the platform acts on (the drift alert, for continuous training) are routed to webhooks given in
`alert_webhooks`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import yaml

from blueprints.naming import MONITORING_NAMESPACE, NodePorts, Ports, selector_labels, standard_labels
from blueprints.schema import MonitoringSettings
from infra import images
from infra.components.registry_access import monitoring_secret
from infra.k8s import (
    config_hash,
    http_probe,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scrape_annotations,
    scratch_volume,
)
from services.monitoring import (
    alert_rules,
    alertmanager_config,
    grafana_dashboards,
    grafana_datasources,
    prometheus_config,
)
from services.monitoring.config import RULES_FILE

__all__ = ["Monitoring", "MonitoringArgs", "prometheus_selector", "pushgateway_selector", "pushgateway_url"]

INSTANCE = "platform"
KSM_PORT = 8080


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
    # registry instance -> its namespace: Prometheus signs in to each registry's /metrics with the
    # password RegistryAccess puts in `registry-monitoring-<instance>` here (ADR 0017)
    registries: dict[str, str] = field(default_factory=dict)


REGISTRY_SECRETS = "/etc/prometheus/registries"  # one folder per registry: its monitoring user's password


def _yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


class Monitoring(pulumi.ComponentResource):
    """Namespace, Prometheus (+RBAC), Alertmanager, Grafana (+datasource, dashboards)."""

    prometheus_url: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Monitoring", name, None, opts)
        ns, settings = args.namespace, args.settings

        def labels(app: str, component: str = "monitoring") -> dict[str, str]:
            return standard_labels(app, INSTANCE, component)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=metadata(
                ns, None, {**labels("monitoring", "namespace"), "pod-security.kubernetes.io/enforce": "restricted"}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        alertmanager_url = f"alertmanager.{ns}.svc:{Ports.ALERTMANAGER}"

        # --- Prometheus -------------------------------------------------------------------------
        prom_labels = labels("prometheus")
        k8s.core.v1.ServiceAccount(
            f"{name}-prometheus-sa",
            metadata=metadata("prometheus", ns, prom_labels),
            automount_service_account_token=True,  # it reads the Kubernetes API for discovery
            opts=child,
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-prometheus-role",
            metadata=metadata("mlops-prometheus", None, prom_labels),
            rules=[
                {"apiGroups": [""], "resources": ["pods", "services", "endpoints"], "verbs": ["get", "list", "watch"]}
            ],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-prometheus-binding",
            metadata=metadata("mlops-prometheus", None, prom_labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mlops-prometheus"},
            subjects=[{"kind": "ServiceAccount", "name": "prometheus", "namespace": ns}],
            opts=child,
        )
        prometheus_yml = _yaml(
            prometheus_config(
                "kubernetes",
                alertmanagers=[alertmanager_url],
                rules_dir="/etc/prometheus/rules",
                kube_state_metrics=f"kube-state-metrics.{ns}.svc:{KSM_PORT}",
                pushgateway=f"pushgateway.{ns}.svc:{Ports.PUSHGATEWAY}",
                registry_passwords={
                    namespace: f"{REGISTRY_SECRETS}/{instance}/password"
                    for instance, namespace in args.registries.items()
                },
            )
        )
        rules_yml = _yaml(alert_rules(settings))
        k8s.core.v1.ConfigMap(
            f"{name}-prometheus-config",
            metadata=metadata("prometheus-config", ns, prom_labels),
            data={"prometheus.yml": prometheus_yml},
            opts=child,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-prometheus-rules",
            metadata=metadata("prometheus-rules", ns, prom_labels),
            data={RULES_FILE: rules_yml},
            opts=child,
        )
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-prometheus-data",
            metadata=metadata("prometheus-data", ns, prom_labels),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": str(settings.storage)}}},
            opts=child,
        )
        self._deployment(
            f"{name}-prometheus",
            ns,
            "prometheus",
            prom_labels,
            images.PROMETHEUS_UID,
            container={
                "name": "prometheus",
                "image": images.PROMETHEUS,
                "args": [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    f"--storage.tsdb.retention.time={settings.retention}",
                    "--web.enable-lifecycle",
                ],
                "ports": [{"name": "http", "containerPort": Ports.PROMETHEUS}],
                "resources": resources(settings.prometheus),
                "readinessProbe": http_probe("/-/ready", "http"),
                "livenessProbe": http_probe("/-/healthy", "http", failure=6),
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
                    {"name": "rules", "mountPath": "/etc/prometheus/rules", "readOnly": True},
                    {"name": "data", "mountPath": "/prometheus"},
                    *(
                        {"name": f"registry-{i}", "mountPath": f"{REGISTRY_SECRETS}/{i}", "readOnly": True}
                        for i in sorted(args.registries)
                    ),
                ],
            },
            volumes=[
                {"name": "config", "configMap": {"name": "prometheus-config"}},
                {"name": "rules", "configMap": {"name": "prometheus-rules"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "prometheus-data"}},
                *(
                    {"name": f"registry-{instance}", "secret": {"secretName": monitoring_secret(instance)}}
                    for instance in sorted(args.registries)
                ),
            ],
            service_account="prometheus",
            port=Ports.PROMETHEUS,
            node_port=NodePorts.PROMETHEUS,
            opts=child,
            config=(prometheus_yml, rules_yml),
        )

        # --- Alertmanager -----------------------------------------------------------------------
        am_labels = labels("alertmanager")
        alertmanager_yml = _yaml(alertmanager_config(args.alert_webhooks))
        k8s.core.v1.ConfigMap(
            f"{name}-alertmanager-config",
            metadata=metadata("alertmanager-config", ns, am_labels),
            data={"alertmanager.yml": alertmanager_yml},
            opts=child,
        )
        self._deployment(
            f"{name}-alertmanager",
            ns,
            "alertmanager",
            am_labels,
            images.PROMETHEUS_UID,
            container={
                "name": "alertmanager",
                "image": images.ALERTMANAGER,
                "args": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
                "ports": [{"name": "http", "containerPort": Ports.ALERTMANAGER}],
                "resources": resources(settings.alertmanager),
                "readinessProbe": http_probe("/-/ready", "http"),
                "livenessProbe": http_probe("/-/healthy", "http", failure=6),
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/alertmanager", "readOnly": True},
                    {"name": "data", "mountPath": "/alertmanager"},
                ],
            },
            volumes=[{"name": "config", "configMap": {"name": "alertmanager-config"}}, scratch_volume("data", "256Mi")],
            port=Ports.ALERTMANAGER,
            opts=child,
            config=(alertmanager_yml,),
        )

        # --- Pushgateway: where batch jobs leave their metrics ------------------------------------
        pg_labels = labels("pushgateway")
        k8s.core.v1.PersistentVolumeClaim(
            f"{name}-pushgateway-data",
            metadata=metadata("pushgateway-data", ns, pg_labels),
            spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "256Mi"}}},
            opts=child,
        )
        self._deployment(
            f"{name}-pushgateway",
            ns,
            "pushgateway",
            pg_labels,
            images.PROMETHEUS_UID,
            container={
                "name": "pushgateway",
                "image": images.PUSHGATEWAY,
                # persisted: each job's last success time must survive a restart, or every job looks late
                "args": ["--persistence.file=/data/metrics", f"--web.listen-address=:{Ports.PUSHGATEWAY}"],
                "ports": [{"name": "http", "containerPort": Ports.PUSHGATEWAY}],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "128Mi"},
                },
                "readinessProbe": http_probe("/-/ready", "http"),
                "livenessProbe": http_probe("/-/healthy", "http", failure=6),
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            },
            volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "pushgateway-data"}}],
            port=Ports.PUSHGATEWAY,
            opts=child,
            scrape=False,  # scraped by its own job, with honor_labels (services/monitoring/config.py)
        )

        # --- kube-state-metrics: object state for the quota and backup alerts -------------------
        ksm_labels = labels("kube-state-metrics")
        k8s.core.v1.ServiceAccount(
            f"{name}-ksm-sa",
            metadata=metadata("kube-state-metrics", ns, ksm_labels),
            automount_service_account_token=True,  # it lists objects through the API
            opts=child,
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-ksm-role",
            metadata=metadata("mlops-kube-state-metrics", None, ksm_labels),
            rules=[
                {"apiGroups": [""], "resources": ["resourcequotas", "namespaces"], "verbs": ["list", "watch"]},
                {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["list", "watch"]},  # backup alert
            ],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-ksm-binding",
            metadata=metadata("mlops-kube-state-metrics", None, ksm_labels),
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "mlops-kube-state-metrics",
            },
            subjects=[{"kind": "ServiceAccount", "name": "kube-state-metrics", "namespace": ns}],
            opts=child,
        )
        self._deployment(
            f"{name}-kube-state-metrics",
            ns,
            "kube-state-metrics",
            ksm_labels,
            images.PROMETHEUS_UID,
            container={
                "name": "kube-state-metrics",
                "image": images.KUBE_STATE_METRICS,
                # Only what the platform's rules use: small memory, small RBAC.
                "args": [
                    f"--port={KSM_PORT}",
                    "--telemetry-port=8081",
                    "--resources=resourcequotas,namespaces,cronjobs",
                ],
                "ports": [
                    {"name": "http", "containerPort": KSM_PORT},
                    {"name": "telemetry", "containerPort": 8081},
                ],
                "resources": {
                    "requests": {"cpu": "10m", "memory": "32Mi"},
                    "limits": {"cpu": "100m", "memory": "128Mi"},
                },
                "readinessProbe": http_probe("/readyz", "telemetry"),
                "livenessProbe": http_probe("/livez", "http"),
            },
            volumes=[],
            service_account="kube-state-metrics",
            port=KSM_PORT,
            opts=child,
            scrape=False,  # scraped by its own job, which keeps the objects' namespace labels
        )

        # --- Grafana ----------------------------------------------------------------------------
        gf_labels = labels("grafana")
        k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=metadata("grafana-admin", ns, gf_labels),
            string_data={"admin-user": "admin", "admin-password": pulumi.Output.secret(secrets.token_urlsafe(18))},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace], ignore_changes=["stringData", "data"]),
        )
        prometheus_url = f"http://prometheus.{ns}.svc:{Ports.PROMETHEUS}"
        datasources_yml = _yaml(grafana_datasources(prometheus_url))
        provider_yml = _yaml(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "mlops-platform",
                        "folder": "MLOps platform",
                        "type": "file",
                        "disableDeletion": True,
                        "options": {"path": "/var/lib/grafana/dashboards"},
                    }
                ],
            }
        )
        k8s.core.v1.ConfigMap(
            f"{name}-grafana-datasources",
            metadata=metadata("grafana-datasources", ns, gf_labels),
            data={"prometheus.yaml": datasources_yml},
            opts=child,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-grafana-dashboard-provider",
            metadata=metadata("grafana-dashboard-provider", ns, gf_labels),
            data={"dashboards.yaml": provider_yml},
            opts=child,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-grafana-dashboards",
            metadata=metadata("grafana-dashboards", ns, gf_labels),
            data={file: pulumi.Output.json_dumps(board) for file, board in grafana_dashboards().items()},
            opts=child,
        )
        admin_env = [
            {
                "name": "GF_SECURITY_ADMIN_USER",
                "valueFrom": {"secretKeyRef": {"name": "grafana-admin", "key": "admin-user"}},
            },
            {
                "name": "GF_SECURITY_ADMIN_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "grafana-admin", "key": "admin-password"}},
            },
            {"name": "GF_PATHS_DATA", "value": "/var/lib/grafana/data"},
            {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
            {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
        ]
        self._deployment(
            f"{name}-grafana",
            ns,
            "grafana",
            gf_labels,
            images.GRAFANA_UID,
            container={
                "name": "grafana",
                "image": images.GRAFANA,
                "env": admin_env,
                "ports": [{"name": "http", "containerPort": Ports.GRAFANA}],
                "resources": resources(settings.grafana),
                "readinessProbe": http_probe("/api/health", "http"),
                "livenessProbe": http_probe("/api/health", "http", failure=6, initial_delay=30),
                "volumeMounts": [
                    {"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": True},
                    {
                        "name": "dashboard-provider",
                        "mountPath": "/etc/grafana/provisioning/dashboards",
                        "readOnly": True,
                    },
                    {"name": "dashboards", "mountPath": "/var/lib/grafana/dashboards", "readOnly": True},
                    {"name": "data", "mountPath": "/var/lib/grafana/data"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            },
            volumes=[
                {"name": "datasources", "configMap": {"name": "grafana-datasources"}},
                {"name": "dashboard-provider", "configMap": {"name": "grafana-dashboard-provider"}},
                {"name": "dashboards", "configMap": {"name": "grafana-dashboards"}},
                scratch_volume("data", "512Mi"),
                scratch_volume("tmp", "64Mi"),
            ],
            port=Ports.GRAFANA,
            node_port=NodePorts.GRAFANA,
            opts=child,
            scrape=False,
            # Provisioning is read at start; the dashboards themselves are re-read by the file provider.
            config=(datasources_yml, provider_yml),
        )
        self.prometheus_url = prometheus_url
        self.register_outputs({"prometheus_url": prometheus_url})

    def _deployment(
        self,
        name: str,
        ns: str,
        app: str,
        labels: dict[str, str],
        uid: int,
        *,
        container: dict,
        volumes: list[dict],
        port: int,
        opts: pulumi.ResourceOptions,
        service_account: str | None = None,
        scrape: bool = True,
        node_port: int | None = None,
        config: tuple[str, ...] = (),
    ) -> None:
        """A one-replica Deployment plus its Service: the shape every monitoring tool here shares.
        `config` is what the tool reads once at start: when it changes, the pod is replaced."""
        select = selector_labels(app, INSTANCE)
        pod_spec: dict = {
            "automountServiceAccountToken": service_account is not None,
            "securityContext": restricted_pod_security(uid),
            "containers": [{**container, "securityContext": restricted_container_security()}],
            "volumes": volumes,
        }
        if service_account:
            pod_spec["serviceAccountName"] = service_account
        annotations = {**(scrape_annotations(port) if scrape else {}), **(config_hash(*config) if config else {})}
        template_meta: dict = {"labels": labels}
        if annotations:
            template_meta["annotations"] = annotations
        k8s.apps.v1.Deployment(
            name,
            metadata=metadata(app, ns, labels),
            spec={
                "replicas": 1,
                # Recreate: the data volume is ReadWriteOnce and two Prometheus must never share a TSDB.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": select},
                "template": {"metadata": template_meta, "spec": pod_spec},
            },
            opts=opts,
        )
        service_port: dict = {"name": "http", "port": port, "targetPort": "http"}
        spec: dict = {"selector": select, "ports": [service_port]}
        if node_port:  # reachable from the host through the kind port mapping
            spec["type"] = "NodePort"
            service_port["nodePort"] = node_port
        k8s.core.v1.Service(f"{name}-service", metadata=metadata(app, ns, labels), spec=spec, opts=opts)
