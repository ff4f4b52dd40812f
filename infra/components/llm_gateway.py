"""LLMGateway: the OpenAI-compatible front door to every tenant's LLMs, in the platform namespace.

What it creates, and why each piece is shaped so (ADR 0022):
- the gateway (`mlplat llm gateway`), with its configuration generated from the blueprint
  (services/llm/gateway/config.py: routes, prices, budgets, guardrails, each LLM replica by its pod
  name), and each consuming tenant's API key: generated once (ADR 0002), in one Secret the gateway
  mounts as files, and a copy (`llm-api-key`) in the tenant's namespace for its applications;
- the embedding model on llama.cpp (`llm-embeddings`, a StatefulSet like the tenants' LLMs), behind
  `/v1/embeddings` and the semantic cache;
- the semantic cache's database: PostgreSQL with pgvector (`llm-cache-db`), on an emptyDir. It is a
  cache: losing it on a restart costs hit ratio, nothing else, so it has no volume, no backups and
  does not share the registry's database and its RPO;
- NetworkPolicies: the gateway reaches DNS, its backends (the tenants' LLM pods, the embeddings),
  its cache database, and the internet on 443 only when the blueprint declares an external provider;
  only consuming tenants and Prometheus reach the gateway; only the gateway reaches the embeddings
  and the cache database. In each consuming tenant's namespace, egress to the gateway is allowed
  (the tenant's default-deny would block it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, Ports, selector_labels, standard_labels
from blueprints.schema import Blueprint, ImageRef
from infra import images
from infra.components.llm_service import LLM_COMPONENT
from infra.k8s import (
    SCRATCH,
    config_hash,
    http_probe,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scrape_annotations,
    scratch_volume,
)
from services.llm.gateway.config import GatewayConfig, gateway_config, provider_key_env

__all__ = [
    "LLMGateway",
    "LLMGatewayArgs",
    "llm_gateway_selector",
    "cluster_gateway_config",
    "GATEWAY",
    "API_KEY_SECRET",
]

GATEWAY = "llm-gateway"
EMBEDDINGS = "llm-embeddings"
CACHE_DB = "llm-cache-db"
INSTANCE = "platform"
API_KEYS = "llm-api-keys"  # tenant -> key, mounted by the gateway as files
API_KEY_SECRET = "llm-api-key"  # a tenant's own key, in its namespace (`api-key`)
CONFIG_DIR = "/etc/llm-gateway"
KEYS_DIR = "/etc/llm-gateway-keys"
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]


def llm_gateway_selector() -> dict[str, str]:
    return selector_labels(GATEWAY, INSTANCE)


def cluster_gateway_config(blueprint: Blueprint, namespace: str = SYSTEM_NAMESPACE) -> GatewayConfig:
    """The gateway's configuration in the cluster: every replica by its StatefulSet pod name."""
    from infra.components.llm_service import replica_urls

    llm = blueprint.platform.llm
    embeddings = [
        f"http://{EMBEDDINGS}-{i}.{EMBEDDINGS}.{namespace}.svc.cluster.local:{Ports.LLM_BACKEND}"
        for i in range(llm.embeddings.replicas)
    ]
    return gateway_config(blueprint, replica_urls, embeddings)


@dataclass(frozen=True)
class LLMGatewayArgs:
    blueprint: Blueprint
    image: ImageRef  # the LLM image (the platform's, with llama.cpp): services/llm/Dockerfile
    namespace: str = SYSTEM_NAMESPACE
    mirror: str | None = None  # platform.imageMirror (infra/images.deployed)


def _peer(namespace: str, pods: dict[str, str] | None = None) -> dict:
    peer: dict = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    if pods:
        peer["podSelector"] = {"matchLabels": dict(pods)}
    return peer


class LLMGateway(pulumi.ComponentResource):
    """The gateway, its keys, its embedding model, its cache database and the paths between them."""

    def __init__(self, name: str, args: LLMGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:LLMGateway", name, None, opts)
        blueprint, ns = args.blueprint, args.namespace
        if blueprint.platform.llm is None:
            raise ValueError(f"blueprint {blueprint.metadata.name!r} declares no platform.llm")
        self._child = pulumi.ResourceOptions(parent=self)
        self._keep = pulumi.ResourceOptions(parent=self, ignore_changes=["stringData", "data"])  # generated once
        config = cluster_gateway_config(blueprint, ns)
        consumers = sorted(config.tenants)
        cache_password = pulumi.Output.secret(secrets.token_urlsafe(24))
        self._api_keys(name, ns, consumers)
        self._cache_database(name, ns, args, cache_password)
        self._embeddings(name, ns, args)
        self._gateway(name, ns, args, config, cache_password)
        self._network_policies(name, ns, blueprint, consumers)
        self.register_outputs({"gateway": GATEWAY, "tenants": consumers})

    def _labels(self, app: str, component: str, tag: str) -> dict[str, str]:
        return standard_labels(app, INSTANCE, component, version=tag)

    def _api_keys(self, name: str, ns: str, tenants: list[str]) -> None:
        keys = {tenant: pulumi.Output.secret(secrets.token_urlsafe(32)) for tenant in tenants}
        labels = standard_labels(GATEWAY, INSTANCE, "llm-api-keys")
        k8s.core.v1.Secret(
            f"{name}-api-keys",
            metadata=metadata(API_KEYS, ns, labels),
            type="Opaque",
            string_data=keys,
            opts=self._keep,
        )
        for tenant, key in keys.items():
            k8s.core.v1.Secret(
                f"{name}-api-key-{tenant}",
                metadata=metadata(
                    API_KEY_SECRET, tenant, standard_labels(GATEWAY, tenant, "llm-api-key", tenant=tenant)
                ),
                type="Opaque",
                string_data={"api-key": key},
                opts=self._keep,
            )

    def _cache_database(self, name: str, ns: str, args: LLMGatewayArgs, password) -> None:
        labels = self._labels(CACHE_DB, "llm-cache-db", images.PGVECTOR.rsplit(":", 1)[-1])
        select = selector_labels(CACHE_DB, INSTANCE)
        k8s.core.v1.Secret(
            f"{name}-cache-db",
            metadata=metadata(CACHE_DB, ns, labels),
            type="Opaque",
            string_data={"POSTGRES_PASSWORD": password},
            opts=self._keep,
        )
        ready = {"exec": {"command": ["pg_isready", "-U", "postgres"]}, "periodSeconds": 5, "timeoutSeconds": 3}
        k8s.apps.v1.Deployment(
            f"{name}-cache-db",
            metadata=metadata(CACHE_DB, ns, labels),
            spec={
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PGVECTOR_UID),
                        "containers": [
                            {
                                "name": "postgres",
                                "image": images.deployed(images.PGVECTOR, args.mirror),
                                "ports": [{"name": "postgres", "containerPort": Ports.POSTGRES}],
                                "env": [
                                    {
                                        "name": "POSTGRES_PASSWORD",
                                        "valueFrom": {"secretKeyRef": {"name": CACHE_DB, "key": "POSTGRES_PASSWORD"}},
                                    },
                                    {"name": "POSTGRES_DB", "value": "llm_cache"},
                                    {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                                ],
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "512Mi"},
                                },
                                "securityContext": restricted_container_security(),
                                "readinessProbe": ready,
                                "livenessProbe": {**ready, "initialDelaySeconds": 30},
                                "volumeMounts": [
                                    {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                                    {"name": "run", "mountPath": "/var/run/postgresql"},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                ],
                            }
                        ],
                        "volumes": [scratch_volume("data", "1Gi"), scratch_volume("run", "16Mi"), scratch_volume()],
                    },
                },
            },
            opts=self._child,
        )
        k8s.core.v1.Service(
            f"{name}-cache-db-service",
            metadata=metadata(CACHE_DB, ns, labels),
            spec={
                "selector": select,
                "ports": [{"name": "postgres", "port": Ports.POSTGRES, "targetPort": "postgres"}],
            },
            opts=self._child,
        )

    def _embeddings(self, name: str, ns: str, args: LLMGatewayArgs) -> None:
        spec = args.blueprint.platform.llm.embeddings
        labels = self._labels(EMBEDDINGS, LLM_COMPONENT, args.image.tag)
        select = selector_labels(EMBEDDINGS, INSTANCE)
        command = ["llm", "backend", "builtin:minilm", "--name", spec.name, "--embedding", "--host", "0.0.0.0"]
        command += ["--port", str(Ports.LLM_BACKEND), "--context", "512", "--download-dir", f"{SCRATCH}/models"]
        k8s.core.v1.Service(
            f"{name}-embeddings-service",
            metadata=metadata(EMBEDDINGS, ns, labels),
            spec={
                "clusterIP": "None",
                "selector": select,
                "ports": [{"name": "http", "port": Ports.LLM_BACKEND, "targetPort": "http"}],
            },
            opts=self._child,
        )
        k8s.apps.v1.StatefulSet(
            f"{name}-embeddings",
            metadata=metadata(EMBEDDINGS, ns, labels),
            spec={
                "serviceName": EMBEDDINGS,
                "replicas": spec.replicas,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "containers": [
                            {
                                "name": "llm-backend",
                                "image": args.image.ref,
                                "command": ["mlplat"],
                                "args": command,
                                "env": [{"name": "HOME", "value": SCRATCH}],
                                "ports": [{"name": "http", "containerPort": Ports.LLM_BACKEND}],
                                "resources": resources(spec.resources),
                                "securityContext": restricted_container_security(),
                                "readinessProbe": http_probe("/v1/models", "http", period=5),
                                "startupProbe": http_probe("/v1/models", "http", period=5, failure=60),
                                "volumeMounts": [{"name": "tmp", "mountPath": SCRATCH}],
                            }
                        ],
                        "volumes": [scratch_volume("tmp", "1Gi")],
                    },
                },
            },
            opts=self._child,
        )

    def _gateway(self, name: str, ns: str, args: LLMGatewayArgs, config: GatewayConfig, password) -> None:
        llm = args.blueprint.platform.llm
        labels = self._labels(GATEWAY, GATEWAY, args.image.tag)
        select = llm_gateway_selector()
        document = config.to_json().decode()
        k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=metadata(GATEWAY, ns, labels), data={"gateway.json": document}, opts=self._child
        )
        providers = [
            {"name": provider_key_env(p.name), "valueFrom": {"secretKeyRef": {"name": p.key_secret, "key": "api-key"}}}
            for p in llm.providers
        ]
        dsn = f"postgresql://postgres:$(CACHE_DB_PASSWORD)@{CACHE_DB}.{ns}.svc:{Ports.POSTGRES}/llm_cache"
        container = {
            "name": GATEWAY,
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": [
                "llm",
                "gateway",
                "--config",
                f"{CONFIG_DIR}/gateway.json",
                "--keys",
                KEYS_DIR,
                "--host",
                "0.0.0.0",
                "--port",
                str(Ports.LLM_GATEWAY),
                "--replicas",
                str(llm.gateway.replicas),
            ],  # fmt: skip
            "env": [
                {
                    "name": "CACHE_DB_PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": CACHE_DB, "key": "POSTGRES_PASSWORD"}},
                },
                {"name": "MLPLAT_LLM_CACHE_DSN", "value": dsn},
                {"name": "HOME", "value": SCRATCH},
                *providers,
            ],
            "ports": [{"name": "http", "containerPort": Ports.LLM_GATEWAY}],
            "resources": resources(llm.gateway.resources),
            "securityContext": restricted_container_security(),
            "readinessProbe": http_probe("/readyz", "http", period=5),
            "livenessProbe": http_probe("/healthz", "http", period=10, failure=6),
            "volumeMounts": [
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "keys", "mountPath": KEYS_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": SCRATCH},
            ],
        }
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(GATEWAY, ns, labels),
            spec={
                "replicas": llm.gateway.replicas,
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {**scrape_annotations(Ports.LLM_GATEWAY), **config_hash(document)},
                    },
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "configMap": {"name": GATEWAY}},
                            {"name": "keys", "secret": {"secretName": API_KEYS}},
                            scratch_volume(),
                        ],
                    },
                },
            },
            opts=self._child,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(GATEWAY, ns, labels),
            spec={"selector": select, "ports": [{"name": "http", "port": Ports.LLM_GATEWAY, "targetPort": "http"}]},
            opts=self._child,
        )
        if llm.gateway.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=metadata(GATEWAY, ns, labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": select}},
                opts=self._child,
            )

    def _network_policies(self, name: str, ns: str, blueprint: Blueprint, consumers: list[str]) -> None:
        for (namespace, policy_name), body in gateway_network_policies(blueprint, ns, consumers).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}-{namespace}",
                metadata=metadata(policy_name, namespace, standard_labels(GATEWAY, INSTANCE, "network-policy")),
                spec=body,
                opts=self._child,
            )


def gateway_network_policies(blueprint: Blueprint, ns: str, consumers: list[str]) -> dict[tuple[str, str], dict]:
    """Every NetworkPolicy of the LLM gateway, by (namespace, name). A pure function, read by tests."""
    gateway = llm_gateway_selector()
    hosts = sorted({t.name for t in blueprint.tenants if t.llm and t.llm.models})
    dns = {
        "to": [_peer("kube-system", {"k8s-app": "kube-dns"})],
        "ports": [{"protocol": "UDP", "port": Ports.DNS}, {"protocol": "TCP", "port": Ports.DNS}],
    }
    backend = {"protocol": "TCP", "port": Ports.LLM_BACKEND}
    egress = [
        dns,
        {"to": [_peer(t, {"app.kubernetes.io/component": LLM_COMPONENT}) for t in hosts], "ports": [backend]},
        {"to": [_peer(ns, selector_labels(EMBEDDINGS, INSTANCE))], "ports": [backend]},
        {
            "to": [_peer(ns, selector_labels(CACHE_DB, INSTANCE))],
            "ports": [{"protocol": "TCP", "port": Ports.POSTGRES}],
        },
    ]
    if blueprint.platform.llm.providers:  # only then may the gateway leave the cluster, on 443
        egress.append(
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        )
    policies: dict[tuple[str, str], dict] = {
        (ns, "llm-gateway-egress"): {
            "podSelector": {"matchLabels": gateway},
            "policyTypes": ["Egress"],
            "egress": egress,
        },
        (ns, "llm-gateway-ingress"): {
            "podSelector": {"matchLabels": gateway},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [_peer(t) for t in consumers] + [_peer(MONITORING_NAMESPACE)],
                    "ports": [{"protocol": "TCP", "port": Ports.LLM_GATEWAY}],
                }
            ],
        },
    }
    for app, port in ((EMBEDDINGS, Ports.LLM_BACKEND), (CACHE_DB, Ports.POSTGRES)):
        policies[(ns, f"{app}-only-from-gateway")] = {
            "podSelector": {"matchLabels": selector_labels(app, INSTANCE)},
            "policyTypes": ["Ingress", "Egress"],  # no egress at all: they call nothing
            "ingress": [{"from": [_peer(ns, gateway)], "ports": [{"protocol": "TCP", "port": port}]}],
        }
    for tenant in consumers:
        policies[(tenant, "allow-egress-to-llm-gateway")] = {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [_peer(ns, gateway)], "ports": [{"protocol": "TCP", "port": Ports.LLM_GATEWAY}]}],
        }
    return policies
