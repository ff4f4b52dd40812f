"""The shape every monitoring tool shares: a one-replica Deployment and its Service."""

from __future__ import annotations

import pulumi_kubernetes as k8s
import yaml

from blueprints.naming import selector_labels
from infra.component import SubComponent
from infra.k8s import config_hash, metadata, restricted_container_security, restricted_pod_security, scrape_annotations

__all__ = ["INSTANCE", "single_replica", "yaml_text"]

INSTANCE = "platform"


def single_replica(
    part: SubComponent,
    name: str,
    ns: str,
    app: str,
    labels: dict[str, str],
    uid: int,
    *,
    container: dict,
    volumes: list[dict],
    port: int,
    service_account: str | None = None,
    scrape: bool = True,
    node_port: int | None = None,
    config: tuple[str, ...] = (),
) -> None:
    """A one-replica Deployment plus its Service, children of `part`. `config` is what the tool reads once
    at start: when it changes, the pod is replaced."""
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
        opts=part.child(),
    )
    service_port: dict = {"name": "http", "port": port, "targetPort": "http"}
    spec: dict = {"selector": select, "ports": [service_port]}
    if node_port:  # reachable from the host through the kind port mapping
        spec["type"] = "NodePort"
        service_port["nodePort"] = node_port
    k8s.core.v1.Service(f"{name}-service", metadata=metadata(app, ns, labels), spec=spec, opts=part.child())


def yaml_text(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)
