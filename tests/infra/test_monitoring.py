"""Monitoring: Prometheus discovers the platform's pods, loads the shared rules, alerts to Alertmanager."""

from __future__ import annotations

import yaml

from blueprints import load
from services.monitoring import alert_rules
from tests.infra.conftest import find, rendered


def _config() -> dict:
    cm = find(rendered("multi-tenant").manifests, "ConfigMap", "prometheus-config", "mlops-monitoring")
    return yaml.safe_load(cm["data"]["prometheus.yml"])


def test_prometheus_discovers_annotated_pods_and_labels_them_by_tenant():
    job = next(j for j in _config()["scrape_configs"] if j["job_name"] == "platform-pods")
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    relabel = {r.get("target_label"): r for r in job["relabel_configs"]}
    assert relabel["tenant"]["source_labels"] == ["__meta_kubernetes_pod_label_platform_mlops_tenant"]
    keep = job["relabel_configs"][0]
    assert keep["action"] == "keep" and keep["regex"] == "true"


def test_prometheus_sends_alerts_to_the_in_cluster_alertmanager():
    targets = _config()["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager.mlops-monitoring.svc:9093"]


def test_rules_configmap_holds_the_shared_rules_and_is_mounted_where_the_config_points():
    manifests = rendered("multi-tenant").manifests
    rules = find(manifests, "ConfigMap", "prometheus-rules", "mlops-monitoring")["data"]["rules.yml"]
    assert yaml.safe_load(rules) == alert_rules(load("multi-tenant").platform.monitoring)
    deployment = find(manifests, "Deployment", "prometheus", "mlops-monitoring")
    mounts = {
        m["name"]: m["mountPath"] for m in deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert _config()["rule_files"] == [f"{mounts['rules']}/rules.yml"]


def test_prometheus_may_only_read_pods_services_and_endpoints():
    role = find(rendered("multi-tenant").manifests, "ClusterRole", "mlops-prometheus")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "services", "endpoints"], "verbs": ["get", "list", "watch"]}
    ]


def test_grafana_is_provisioned_with_prometheus_and_dashboards_and_a_generated_password():
    manifests = rendered("multi-tenant").manifests
    datasources = yaml.safe_load(find(manifests, "ConfigMap", "grafana-datasources")["data"]["prometheus.yaml"])
    assert datasources["datasources"][0]["url"] == "http://prometheus.mlops-monitoring.svc:9090"
    dashboards = find(manifests, "ConfigMap", "grafana-dashboards")["data"]
    assert dashboards and all(name.endswith(".json") for name in dashboards)
    env = {
        e["name"]: e
        for e in find(manifests, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "grafana-admin"


def test_metrics_server_runs_with_the_flags_kind_needs():
    deployment = find(rendered("foundation").manifests, "Deployment", "metrics-server", "kube-system")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--kubelet-insecure-tls" in args
    assert any(a.startswith("--kubelet-preferred-address-types=InternalIP") for a in args)
    assert find(rendered("foundation").manifests, "APIService", "v1beta1.metrics.k8s.io")
