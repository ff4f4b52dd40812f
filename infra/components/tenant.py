"""Tenant: one team's isolated slice of the cluster.

A tenant is a namespace with hard limits around it:
- a ResourceQuota (cpu and memory cap both requests and limits; no LoadBalancer or NodePort
  Services at all) and a LimitRange that fills in resources for containers that name none;
- default-deny NetworkPolicies for ingress and egress, then explicit allows for exactly the paths
  the platform needs: DNS, the model registry, scraping from the monitoring namespace, requests
  from the platform gateway to the model servers, (for tenants with batch jobs) the batch pods'
  pushes to the Pushgateway, and (for tenants with a feature store) its database on the platform's
  PostgreSQL, its feature server from the tenant's own pods only, and the materialization's pushes;
- Pod Security Admission at `restricted`, so even a hand-written pod must run unprivileged;
- two ServiceAccounts with `automountServiceAccountToken: false`: `serving` runs the model
  servers and has no API rights at all; `team` is the team's automation identity, bound with the
  team's groups to a least-privilege Role (read workloads and logs, port-forward; no secrets,
  no exec, nothing cluster-wide).

See docs/adr for why isolation is namespace-based rather than cluster-per-team.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import (
    LABEL_TENANT,
    MONITORING_NAMESPACE,
    SYSTEM_NAMESPACE,
    Ports,
    standard_labels,
    tenant_namespace,
)
from blueprints.schema import Tenant as TenantSpec
from infra.k8s import metadata

__all__ = ["Tenant", "TenantArgs", "SERVING_SERVICE_ACCOUNT", "TEAM_SERVICE_ACCOUNT", "TEAM_ROLE_RULES"]

SERVING_SERVICE_ACCOUNT = "serving"
TEAM_SERVICE_ACCOUNT = "team"

# What a team may do in its own namespace: observe everything it runs, read logs, port-forward to
# debug a model server. Deployments are the platform's job (Pulumi), so no write verbs on them;
# no Secrets, no exec.
TEAM_ROLE_RULES: list[dict] = [
    {
        "apiGroups": [""],
        "resources": [
            "pods",
            "services",
            "endpoints",
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "resourcequotas",
            "limitranges",
        ],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]},
    {
        "apiGroups": ["apps", "autoscaling", "policy", "batch"],
        "resources": [
            "deployments",
            "replicasets",
            "statefulsets",
            "horizontalpodautoscalers",
            "poddisruptionbudgets",
            "jobs",
            "cronjobs",
        ],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "list", "watch"]},
]


@dataclass(frozen=True)
class TenantArgs:
    spec: TenantSpec
    # Where the tenant's model registry lives: the shared one in the platform namespace, or a
    # dedicated one inside the tenant's own namespace.
    registry_namespace: str = SYSTEM_NAMESPACE
    registry_selector: dict[str, str] = field(default_factory=dict)
    gateway_selector: dict[str, str] = field(default_factory=dict)
    prometheus_selector: dict[str, str] = field(default_factory=dict)
    # The Pushgateway batch jobs push their metrics to; only tenants with batch jobs may reach it.
    pushgateway_selector: dict[str, str] = field(default_factory=dict)
    # The platform's PostgreSQL (in the platform namespace), where a tenant with features has its
    # feature store's database.
    feature_database_selector: dict[str, str] = field(default_factory=dict)


class Tenant(pulumi.ComponentResource):
    """Namespace, quota, limits, default-deny networking and RBAC for one team."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Tenant", name, None, opts)
        spec = args.spec
        ns = tenant_namespace(spec.name)
        child = pulumi.ResourceOptions(parent=self)

        def labels(component: str) -> dict[str, str]:
            return standard_labels("tenant", spec.name, component, tenant=spec.name)

        self._namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=metadata(
                ns,
                None,
                {
                    **labels("namespace"),
                    LABEL_TENANT: spec.name,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
                {
                    "platform.mlops/display-name": spec.display_name or spec.name,
                    "platform.mlops/registry-mode": spec.registry,
                },
            ),
            opts=child,
        )
        self.namespace = self._namespace.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self._namespace])

        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=metadata("tenant-quota", ns, labels("quota")),
            spec={
                "hard": {
                    "requests.cpu": str(spec.quotas.cpu),
                    "limits.cpu": str(spec.quotas.cpu),
                    "requests.memory": str(spec.quotas.memory),
                    "limits.memory": str(spec.quotas.memory),
                    "requests.storage": str(spec.quotas.storage),
                    "pods": str(spec.quotas.pods),
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            },
            opts=in_ns,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=metadata("tenant-limits", ns, labels("limits")),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": str(spec.limits.default.cpu), "memory": str(spec.limits.default.memory)},
                        "defaultRequest": {
                            "cpu": str(spec.limits.default_request.cpu),
                            "memory": str(spec.limits.default_request.memory),
                        },
                    }
                ]
            },
            opts=in_ns,
        )
        for policy_name, policy_spec in network_policies(spec.name, args).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=metadata(policy_name, ns, labels("network-policy")),
                spec=policy_spec,
                opts=in_ns,
            )

        for account in (SERVING_SERVICE_ACCOUNT, TEAM_SERVICE_ACCOUNT):
            k8s.core.v1.ServiceAccount(
                f"{name}-sa-{account}",
                metadata=metadata(account, ns, labels("service-account")),
                automount_service_account_token=False,
                opts=in_ns,
            )
        k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=metadata("tenant-developer", ns, labels("rbac")),
            rules=TEAM_ROLE_RULES,
            opts=in_ns,
        )
        subjects = [{"kind": "ServiceAccount", "name": TEAM_SERVICE_ACCOUNT, "namespace": ns}]
        subjects += [{"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"} for group in spec.owners]
        k8s.rbac.v1.RoleBinding(
            f"{name}-rolebinding",
            metadata=metadata("tenant-developer", ns, labels("rbac")),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant-developer"},
            subjects=subjects,
            opts=in_ns,
        )
        self.register_outputs({"namespace": self.namespace})


def _in_namespace(namespace: str, pods: dict[str, str]) -> dict:
    """A NetworkPolicy peer: the pods matching `pods` (all, when empty) in `namespace`."""
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


def network_policies(tenant: str, args: TenantArgs) -> dict[str, dict]:
    """The tenant's NetworkPolicies by name: deny everything, then allow the platform's paths.

    A pure function so tests and docs can read the allowed paths without running Pulumi.
    """

    serving = {"matchLabels": {"app.kubernetes.io/component": "model-server"}}
    serving_ports = [{"protocol": "TCP", "port": port} for port in (Ports.MODEL_SERVER, Ports.MODEL_SERVER_GRPC)]
    policies: dict[str, dict] = {
        "default-deny-all": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [_in_namespace("kube-system", {"k8s-app": "kube-dns"})],
                    "ports": [{"protocol": "UDP", "port": Ports.DNS}, {"protocol": "TCP", "port": Ports.DNS}],
                }
            ],
        },
        "allow-registry": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [_in_namespace(args.registry_namespace, args.registry_selector)],
                    "ports": [{"protocol": "TCP", "port": Ports.MLFLOW}],
                }
            ],
        },
        "allow-scrape-from-monitoring": {
            "podSelector": serving,
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [_in_namespace(MONITORING_NAMESPACE, args.prometheus_selector)],
                    "ports": [{"protocol": "TCP", "port": Ports.MODEL_SERVER}],
                }
            ],
        },
        "allow-gateway-to-serving": {
            "podSelector": serving,
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [_in_namespace(SYSTEM_NAMESPACE, args.gateway_selector)],
                    "ports": serving_ports,  # REST and the Open Inference Protocol's gRPC
                }
            ],
        },
        # The tenant's own pods (its apps, its jobs) may call its model servers directly, over REST or
        # gRPC, as the gateway does; pods of other namespaces may not (only the gateway and Prometheus, above).
        "allow-tenant-to-serving": {
            "podSelector": serving,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}], "ports": serving_ports}],
        },
        "allow-egress-to-own-serving": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": serving}], "ports": serving_ports}],
        },
    }
    if args.spec.batch and args.pushgateway_selector:
        # Batch jobs end before a scrape could reach them: they push, and only they may.
        policies["allow-batch-to-pushgateway"] = {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "batch-scoring"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [_in_namespace(MONITORING_NAMESPACE, args.pushgateway_selector)],
                    "ports": [{"protocol": "TCP", "port": Ports.PUSHGATEWAY}],
                }
            ],
        }
    if args.spec.features is not None and args.feature_database_selector:
        policies.update(_feature_store_policies(args))
    if args.registry_namespace == tenant_namespace(tenant):
        policies.update(_dedicated_registry_policies())
    return policies


def _feature_store_policies(args: TenantArgs) -> dict[str, dict]:
    """The feature store (feature_store/): its database on the platform's PostgreSQL, for the pods that read
    or write it; its feature server, for this tenant's own pods only; its materialization's pushes."""
    policies: dict[str, dict] = {}
    policies["allow-feature-store-database"] = {
        "podSelector": {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/component",
                    "operator": "In",
                    "values": ["model-server", "feature-server", "feature-materialization"],
                }
            ]
        },
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [_in_namespace(SYSTEM_NAMESPACE, args.feature_database_selector)],
                "ports": [{"protocol": "TCP", "port": Ports.POSTGRES}],
            }
        ],
    }
    policies["allow-tenant-to-feature-server"] = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "feature-server"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": Ports.FEATURE_SERVER}]}],
    }
    # default-deny covers egress too: without this, the model servers could not call it (enforced on kind)
    policies["allow-egress-to-own-feature-server"] = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "feature-server"}}}],
                "ports": [{"protocol": "TCP", "port": Ports.FEATURE_SERVER}],
            }
        ],
    }
    if args.pushgateway_selector:
        policies["allow-materialization-to-pushgateway"] = {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "feature-materialization"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [_in_namespace(MONITORING_NAMESPACE, args.pushgateway_selector)],
                    "ports": [{"protocol": "TCP", "port": Ports.PUSHGATEWAY}],
                }
            ],
        }
    return policies


def _dedicated_registry_policies() -> dict[str, dict]:
    """A dedicated registry lives in the tenant's namespace: the tenant's pods reach it, and the MLflow
    server (and its backups and restores) its own database."""
    policies: dict[str, dict] = {}
    registry = {"matchLabels": {"app.kubernetes.io/component": "registry-server"}}
    database = {"app.kubernetes.io/component": "registry-database"}
    policies["allow-registry-ingress"] = {
        "podSelector": registry,
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": Ports.MLFLOW}]}],
    }
    policies["allow-registry-database"] = {
        "podSelector": {"matchLabels": database},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "mlops-platform"}}}],
                "ports": [{"protocol": "TCP", "port": Ports.POSTGRES}],
            }
        ],
    }
    policies["allow-registry-egress-database"] = {
        "podSelector": {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/component",
                    "operator": "In",
                    "values": ["registry-server", "registry-backup", "registry-restore"],
                }
            ]
        },
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"podSelector": {"matchLabels": database}}],
                "ports": [{"protocol": "TCP", "port": Ports.POSTGRES}],
            }
        ],
    }
    return policies
