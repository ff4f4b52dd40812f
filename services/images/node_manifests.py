"""The two manifests a kind node image holds, which `kind create cluster` applies: the default CNI's and the
default storage's (/kind/manifests/default-cni.yaml, default-storage.yaml).

Storage: kind's own manifest, read from the kind module (pkg/build/nodeimage/const_storage.go, where kind
keeps it as a Go string), with the provisioner's and helper's images replaced by the ones built here.
Reading it from the pinned module keeps every other line kind's (a StorageClass `standard`, the default,
WaitForFirstConsumer, volumes under /var/local-path-provisioner).

CNI: kind's manifest runs kindnetd, which cannot be built here (ADR 0019). The pod network itself is
containerd's (node_base.CNI_TEMPLATE: kindnet's ptp network from the node's pod CIDR); this manifest adds
the part that enforces NetworkPolicy: kube-router with only its firewall on (`--run-router=false
--run-service-proxy=false`, the upstream daemonset/kube-router-firewall-daemonset.yaml mode), on every
node, with the read-only permissions that controller uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

__all__ = ["cni_manifest", "go_string_constant", "storage_manifest"]

STORAGE_SOURCE = "pkg/build/nodeimage/const_storage.go"
_TOKEN = re.compile(r"\s*(?:`([^`]*)`|(\w+))\s*(\+)?", re.S)


def go_string_constant(source: str, name: str, values: dict[str, str]) -> str:
    """The value of `const <name> = ...` in Go source: raw strings and named constants joined by `+`.

    Each named constant must be in `values` (what to put in its place); an unknown one is an error, so a
    new image in kind's manifest cannot slip through unreplaced."""
    start = re.search(rf"^const {name} = ", source, re.M)
    if not start:
        raise ValueError(f"no `const {name}` in the Go source")
    position, parts = start.end(), []
    while True:
        token = _TOKEN.match(source, position)
        if not token:
            raise ValueError(f"const {name}: cannot read the expression at {source[position : position + 40]!r}")
        literal, identifier, more = token.groups()
        if identifier is not None and identifier not in values:
            raise ValueError(f"const {name} uses {identifier}, which has no replacement")
        parts.append(literal if literal is not None else values[identifier])
        position = token.end()
        if not more:
            return "".join(parts)


def storage_manifest(kind_module: Path, provisioner_image: str, helper_image: str) -> str:
    source = (kind_module / STORAGE_SOURCE).read_text(encoding="utf-8")
    values = {"storageProvisionerImage": provisioner_image, "storageHelperImage": helper_image}
    return go_string_constant(source, "defaultStorageManifest", values)


def cni_manifest(kube_router_image: str) -> str:
    """kube-router's NetworkPolicy controller on every node (see the module docstring)."""
    name, namespace = "kube-router", "kube-system"
    labels = {"k8s-app": name, "tier": "node"}
    read = ["get", "list", "watch"]
    documents = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces", "pods", "nodes", "services", "endpoints"],
                    "verbs": read,
                },
                {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": read},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": name}},
                "template": _pod_template(kube_router_image, labels),
            },
        },
    ]
    return yaml.safe_dump_all(documents, sort_keys=False)


def _pod_template(image: str, labels: dict[str, str]) -> dict:
    host_paths = {"lib-modules": ("/lib/modules", None), "xtables-lock": ("/run/xtables.lock", "FileOrCreate")}
    return {
        "metadata": {"labels": labels},
        "spec": {
            "hostNetwork": True,  # it writes the node's iptables
            "serviceAccountName": "kube-router",
            "priorityClassName": "system-node-critical",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "kube-router",
                    "image": image,
                    "args": [
                        "--run-router=false",
                        "--run-firewall=true",
                        "--run-service-proxy=false",
                        "--enable-cni=false",
                    ],
                    "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    "securityContext": {"privileged": True},
                    "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": 20244},
                        "initialDelaySeconds": 10,
                        "periodSeconds": 3,
                    },
                    "volumeMounts": [
                        {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
                        {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                    ],
                }
            ],
            "volumes": [
                {"name": volume, "hostPath": {"path": path, **({"type": kind} if kind else {})}}
                for volume, (path, kind) in host_paths.items()
            ],
        },
    }
