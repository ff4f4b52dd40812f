"""Integrity checks over a set of captured manifests: the wiring a schema cannot see.

Each check is a pure function `check(manifests) -> list[str]` returning one line per violation,
so a test asserts an empty list and a mutation test asserts the line that a broken manifest
produces. The same checks run on every shipped blueprint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from blueprints.naming import LABEL_TENANT, REQUIRED_LABELS

Manifest = dict[str, Any]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def _ns(m: Manifest) -> str:
    return m.get("metadata", {}).get("namespace", "")


def _name(m: Manifest) -> str:
    return m.get("metadata", {}).get("name", "")


def _ref(m: Manifest) -> str:
    ns = _ns(m)
    return f"{m.get('kind')}/{ns + '/' if ns else ''}{_name(m)}"


def pod_templates(manifests: list[Manifest]) -> Iterator[tuple[Manifest, dict]]:
    """(owner, pod template) for every object that runs pods."""
    for m in manifests:
        kind = m.get("kind")
        if kind in WORKLOAD_KINDS or kind == "Job":
            yield m, m["spec"]["template"]
        elif kind == "CronJob":
            yield m, m["spec"]["jobTemplate"]["spec"]["template"]


def _containers(template: dict) -> list[dict]:
    spec = template.get("spec", {})
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_service_selectors(manifests: list[Manifest]) -> list[str]:
    """Every Service's selector matches the pod labels of a workload in its namespace."""
    problems = []
    for svc in (m for m in manifests if m.get("kind") == "Service"):
        selector = svc.get("spec", {}).get("selector") or {}
        if not selector:
            problems.append(f"{_ref(svc)}: has no selector")
            continue
        if not any(
            _ns(owner) == _ns(svc) and _matches(selector, tpl.get("metadata", {}).get("labels", {}))
            for owner, tpl in pod_templates(manifests)
            if owner.get("kind") in WORKLOAD_KINDS
        ):
            problems.append(f"{_ref(svc)}: selector {selector} matches no workload's pod labels")
    return problems


def check_workload_selectors(manifests: list[Manifest]) -> list[str]:
    """A workload's selector matches its own pod template, and PDBs and HPAs point at real workloads."""
    problems = []
    for m in (m for m in manifests if m.get("kind") in WORKLOAD_KINDS):
        selector = m["spec"].get("selector", {}).get("matchLabels", {})
        if not _matches(selector, m["spec"]["template"].get("metadata", {}).get("labels", {})):
            problems.append(f"{_ref(m)}: selector {selector} does not match its pod template labels")
    for pdb in (m for m in manifests if m.get("kind") == "PodDisruptionBudget"):
        selector = pdb["spec"].get("selector", {}).get("matchLabels", {})
        if not any(
            _ns(o) == _ns(pdb) and _matches(selector, t.get("metadata", {}).get("labels", {}))
            for o, t in pod_templates(manifests)
        ):
            problems.append(f"{_ref(pdb)}: selector {selector} matches no pods")
    for hpa in (m for m in manifests if m.get("kind") == "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if not any(
            m.get("kind") == target["kind"] and _name(m) == target["name"] and _ns(m) == _ns(hpa) for m in manifests
        ):
            problems.append(f"{_ref(hpa)}: scaleTargetRef {target['kind']}/{target['name']} does not exist")
    return problems


def _references(template: dict) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret, PVC and ServiceAccount a pod template uses."""
    spec = template.get("spec", {})
    yield "ServiceAccount", spec.get("serviceAccountName", "default")
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"]
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
    for container in _containers(template):
        for env in container.get("env", []):
            source = env.get("valueFrom", {})
            if "secretKeyRef" in source:
                yield "Secret", source["secretKeyRef"]["name"]
            if "configMapKeyRef" in source:
                yield "ConfigMap", source["configMapKeyRef"]["name"]
        for env_from in container.get("envFrom", []):
            if "secretRef" in env_from:
                yield "Secret", env_from["secretRef"]["name"]
            if "configMapRef" in env_from:
                yield "ConfigMap", env_from["configMapRef"]["name"]


def check_references(manifests: list[Manifest]) -> list[str]:
    """Every ConfigMap, Secret, PVC and ServiceAccount a pod references exists in its namespace."""
    existing = {(m.get("kind"), _ns(m), _name(m)) for m in manifests}
    # A StatefulSet's controller creates a claim per template and replica: <template>-<set>-<ordinal>.
    existing |= {
        ("PersistentVolumeClaim", _ns(m), f"{t['metadata']['name']}-{_name(m)}-{ordinal}")
        for m in manifests
        if m.get("kind") == "StatefulSet"
        for t in m["spec"].get("volumeClaimTemplates", [])
        for ordinal in range(m["spec"].get("replicas", 1))
    }
    problems = []
    for owner, template in pod_templates(manifests):
        claim_templates = {t["metadata"]["name"] for t in owner.get("spec", {}).get("volumeClaimTemplates", [])}
        volume_names = {v["name"] for v in template.get("spec", {}).get("volumes", [])}
        for kind, name in _references(template):
            if kind == "ServiceAccount" and name == "default":
                continue  # every namespace has it
            if (kind, _ns(owner), name) not in existing:
                problems.append(f"{_ref(owner)}: references {kind} {name!r}, which does not exist in {_ns(owner)!r}")
        for container in _containers(template):
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volume_names | claim_templates:
                    problems.append(
                        f"{_ref(owner)}: container {container['name']!r} mounts unknown volume {mount['name']!r}"
                    )
    return problems


def _container_ports(template: dict) -> set[str | int]:
    ports: set[str | int] = set()
    for container in _containers(template):
        for port in container.get("ports", []):
            ports.add(port["containerPort"])
            if "name" in port:
                ports.add(port["name"])
    return ports


def check_ports(manifests: list[Manifest]) -> list[str]:
    """Service target ports and probe ports exist on the containers they point at."""
    problems = []
    for owner, template in pod_templates(manifests):
        for container in _containers(template):
            declared = {p["containerPort"] for p in container.get("ports", [])} | {
                p["name"] for p in container.get("ports", []) if "name" in p
            }
            for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(probe_name) or {}
                action = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
                if action and action.get("port") not in declared:
                    problems.append(
                        f"{_ref(owner)}: {container['name']} {probe_name} port {action.get('port')!r} "
                        "is not a container port"
                    )
    for svc in (m for m in manifests if m.get("kind") == "Service"):
        selector = svc.get("spec", {}).get("selector") or {}
        targets = [
            t
            for o, t in pod_templates(manifests)
            if o.get("kind") in WORKLOAD_KINDS
            and _ns(o) == _ns(svc)
            and _matches(selector, t.get("metadata", {}).get("labels", {}))
        ]
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if targets and not all(target in _container_ports(t) for t in targets):
                problems.append(f"{_ref(svc)}: targetPort {target!r} is not a port of the selected pods")
    return problems


def check_tenant_isolation(manifests: list[Manifest]) -> list[str]:
    """Every tenant namespace has exactly one ResourceQuota, a LimitRange and default-deny both ways."""
    problems = []
    tenants = [
        _name(m)
        for m in manifests
        if m.get("kind") == "Namespace" and LABEL_TENANT in m.get("metadata", {}).get("labels", {})
    ]
    for ns in tenants:
        in_ns = [m for m in manifests if _ns(m) == ns]
        quotas = [m for m in in_ns if m.get("kind") == "ResourceQuota"]
        if len(quotas) != 1:
            problems.append(f"namespace {ns}: has {len(quotas)} ResourceQuotas, expected exactly 1")
        if not any(m.get("kind") == "LimitRange" for m in in_ns):
            problems.append(f"namespace {ns}: has no LimitRange")
        deny = [
            m
            for m in in_ns
            if m.get("kind") == "NetworkPolicy"
            and m["spec"].get("podSelector") == {}
            and set(m["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not m["spec"].get("ingress")
            and not m["spec"].get("egress")
        ]
        if not deny:
            problems.append(f"namespace {ns}: has no default-deny NetworkPolicy for ingress and egress")
    if not tenants:
        problems.append("no tenant namespaces at all")
    return problems


def check_unique(manifests: list[Manifest]) -> list[str]:
    """No two objects share kind, namespace and name."""
    counts = Counter((m.get("kind"), _ns(m), _name(m)) for m in manifests)
    return [
        f"{kind}/{ns + '/' if ns else ''}{name}: declared {n} times" for (kind, ns, name), n in counts.items() if n > 1
    ]


def check_standard_labels(manifests: list[Manifest]) -> list[str]:
    """Every object, and every pod template, carries the standard labels."""
    problems = []
    for m in manifests:
        labels = m.get("metadata", {}).get("labels", {})
        missing = [label for label in REQUIRED_LABELS if label not in labels]
        if missing:
            problems.append(f"{_ref(m)}: missing labels {missing}")
    for owner, template in pod_templates(manifests):
        labels = template.get("metadata", {}).get("labels", {})
        missing = [label for label in REQUIRED_LABELS if label not in labels]
        if missing:
            problems.append(f"{_ref(owner)}: pod template missing labels {missing}")
    return problems


CHECKS: dict[str, Callable[[list[Manifest]], list[str]]] = {
    "service-selectors": check_service_selectors,
    "workload-selectors": check_workload_selectors,
    "references": check_references,
    "ports": check_ports,
    "tenant-isolation": check_tenant_isolation,
    "unique": check_unique,
    "standard-labels": check_standard_labels,
}
