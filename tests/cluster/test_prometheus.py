"""Prometheus scrapes every target it should, and each answers (`up == 1`).

What it should scrape is worked out independently of its configuration: itself, kube-state-metrics and the
Pushgateway (static targets), and every running pod the platform annotates for scraping, which must
include the registry's server, the training trigger, Alertmanager and each model-server replica the
blueprint declares. A pod that lost its annotation, a target that cannot be reached (a NetworkPolicy, a
wrong port, a scrape that needs a sign-in) or a target that answers with an error all fail here.

Grafana is not deployed on this machine (its image cannot be built offline here; docs/air-gapped.md), so
its dashboards are not checked by this layer: the README says so.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE
from tests.cluster.conftest import PROMETHEUS, wait_for


def prometheus(path: str, **params: str) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{PROMETHEUS}{path}{query}", timeout=10) as response:
        return json.load(response)["data"]


def annotated_pods(cluster, namespaces: tuple[str, ...]) -> dict[str, str]:
    """pod IP -> namespace/pod, for every running pod annotated prometheus.io/scrape: "true"."""
    pods = {}
    for namespace in namespaces:
        for pod in cluster.get("-n", namespace, "pods")["items"]:
            annotations = pod["metadata"].get("annotations", {})
            if annotations.get("prometheus.io/scrape") == "true" and pod["status"].get("phase") == "Running":
                pods[pod["status"]["podIP"]] = f"{namespace}/{pod['metadata']['name']}"
    return pods


def test_prometheus_scrapes_every_platform_target_and_each_is_up(cluster, blueprint, tenant, served_model):
    namespaces = (SYSTEM_NAMESPACE, MONITORING_NAMESPACE, *(t.name for t in blueprint.tenants))
    expected_pods = annotated_pods(cluster, namespaces)
    components = {
        pod["metadata"]["labels"].get("app.kubernetes.io/component")
        for namespace in namespaces
        for pod in cluster.get("-n", namespace, "pods")["items"]
        if pod["status"].get("podIP") in expected_pods
    }
    assert {"registry-server", "training-trigger", "model-server"} <= components, components
    replicas = sum(m.replicas.min for t in blueprint.tenants for m in t.models)
    model_servers = [p for p in expected_pods.values() if p.split("/")[0] in {t.name for t in blueprint.tenants}]
    assert len(model_servers) >= replicas, model_servers

    def all_up():
        targets = prometheus("/api/v1/targets", state="active")["activeTargets"]
        scraped = {urllib.parse.urlsplit(t["scrapeUrl"]).hostname: t for t in targets}
        missing = sorted(name for ip, name in expected_pods.items() if ip not in scraped)
        jobs = {t["labels"]["job"] for t in targets}
        down = {t["scrapeUrl"]: t.get("lastError") or t["health"] for t in targets if t["health"] != "up"}
        return (missing, jobs, down, targets) if not missing and not down else None

    try:
        _, jobs, _, targets = wait_for(all_up, 120, "every target scraped and up", poll=5)
    except AssertionError:
        targets = prometheus("/api/v1/targets", state="active")["activeTargets"]
        report = {t["scrapeUrl"]: (t["health"], t.get("lastError")) for t in targets}
        raise AssertionError(f"expected pods {expected_pods}; Prometheus has {json.dumps(report, indent=1)}") from None
    assert {"prometheus", "kube-state-metrics", "pushgateway"} <= jobs, jobs

    up = prometheus("/api/v1/query", query="up")["result"]
    assert len(up) == len(targets)
    assert {s["metric"]["instance"]: s["value"][1] for s in up if s["value"][1] != "1"} == {}
