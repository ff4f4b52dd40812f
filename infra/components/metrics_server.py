"""MetricsServer: the cluster add-on kind lacks and the HPAs need.

The objects of upstream metrics-server's `components.yaml`, typed, with the two flags a kind
cluster needs: kind's kubelets serve self-signed certificates (`--kubelet-insecure-tls`) and are
reached by their InternalIP.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, selector_labels, standard_labels
from infra import images
from infra.k8s import http_probe, metadata, restricted_container_security, scratch_volume

__all__ = ["MetricsServer", "MetricsServerArgs"]

NAME = "metrics-server"


@dataclass(frozen=True)
class MetricsServerArgs:
    namespace: str = "kube-system"
    kubelet_insecure_tls: bool = True
    mirror: str | None = None  # platform.imageMirror: pull metrics-server from it


class MetricsServer(pulumi.ComponentResource):
    def __init__(self, name: str, args: MetricsServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:MetricsServer", name, None, opts)
        ns = args.namespace
        labels = standard_labels(NAME, "platform", "cluster-addon")
        select = selector_labels(NAME, "platform")
        child = pulumi.ResourceOptions(parent=self)
        rbac = "rbac.authorization.k8s.io"

        k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=metadata(NAME, ns, labels), opts=child)
        k8s.rbac.v1.ClusterRole(
            f"{name}-aggregated-reader",
            metadata=metadata(
                "system:aggregated-metrics-reader",
                None,
                {
                    **labels,
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-view": "true",
                },
            ),
            rules=[
                {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}
            ],
            opts=child,
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-role",
            metadata=metadata("system:metrics-server", None, labels),
            rules=[
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-auth-reader",
            metadata=metadata("metrics-server-auth-reader", ns, labels),
            role_ref={"apiGroup": rbac, "kind": "Role", "name": "extension-apiserver-authentication-reader"},
            subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": ns}],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-auth-delegator",
            metadata=metadata("metrics-server:system:auth-delegator", None, labels),
            role_ref={"apiGroup": rbac, "kind": "ClusterRole", "name": "system:auth-delegator"},
            subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": ns}],
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-binding",
            metadata=metadata("system:metrics-server", None, labels),
            role_ref={"apiGroup": rbac, "kind": "ClusterRole", "name": "system:metrics-server"},
            subjects=[{"kind": "ServiceAccount", "name": NAME, "namespace": ns}],
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(NAME, ns, labels),
            spec={"selector": select, "ports": [{"name": "https", "port": 443, "targetPort": "https"}]},
            opts=child,
        )
        flags = [
            "--cert-dir=/tmp",
            f"--secure-port={Ports.METRICS_SERVER}",
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--kubelet-use-node-status-port",
            "--metric-resolution=15s",
        ]
        if args.kubelet_insecure_tls:
            flags.append("--kubelet-insecure-tls")
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(NAME, ns, labels),
            spec={
                "replicas": 1,
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": NAME,
                        "priorityClassName": "system-cluster-critical",
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "metrics-server",
                                "image": images.deployed(images.METRICS_SERVER, args.mirror),
                                "args": flags,
                                "ports": [{"name": "https", "containerPort": Ports.METRICS_SERVER}],
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "200Mi"},
                                    "limits": {"cpu": "500m", "memory": "400Mi"},
                                },
                                "securityContext": restricted_container_security(),
                                "readinessProbe": http_probe("/readyz", "https", initial_delay=20, scheme="HTTPS"),
                                "livenessProbe": http_probe("/livez", "https", scheme="HTTPS"),
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            }
                        ],
                        "volumes": [scratch_volume("tmp", "64Mi")],
                    },
                },
            },
            opts=child,
        )
        k8s.apiregistration.v1.APIService(
            f"{name}-apiservice",
            metadata=metadata("v1beta1.metrics.k8s.io", None, labels),
            spec={
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
                "insecureSkipTLSVerify": True,
                "service": {"name": NAME, "namespace": ns, "port": 443},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service, deployment]),
        )
        self.register_outputs({})
