"""LLMService: one tenant's LLM on llama.cpp, as a StatefulSet of replicas the gateway addresses one by one.

A StatefulSet, not a Deployment, because the gateway's prefix-aware routing needs to name each
replica: requests sharing a system prompt go to the replica whose KV cache holds it, and a headless
Service gives every pod a stable DNS name (`<model>-0.<model>.<tenant>.svc`) that the gateway's
configuration lists (ADR 0022). Each pod runs `mlplat llm backend models:/<model>@<alias>`: it
downloads the registered GGUF (signed in read-only, like a model server) and starts llama.cpp's
server on it, with the blueprint's threads and prompt cache.

The tenant's NetworkPolicies deny everything by default; this component adds the one path in: the
LLM gateway's pods, on the backend port. The backends reach the registry by the tenant's existing
allow-registry policy and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import SYSTEM_NAMESPACE, Ports, selector_labels, standard_labels
from blueprints.schema import ImageRef, LLMModel
from infra import images
from infra.components.registry_access import SERVING_CREDENTIALS, credentials_env
from infra.components.tenant import SERVING_SERVICE_ACCOUNT
from infra.k8s import (
    SCRATCH,
    http_probe,
    metadata,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scratch_volume,
)

__all__ = ["LLMService", "LLMServiceArgs", "LLM_COMPONENT", "replica_urls", "backend_args", "llm_image"]

LLM_COMPONENT = "llm-backend"


def llm_image(platform: ImageRef) -> ImageRef:
    """The platform image plus llama.cpp (services/llm/Dockerfile), at the platform's tag."""
    return ImageRef(repository=f"{platform.repository.rsplit('/', 1)[0]}/llm", tag=platform.tag)


def replica_urls(tenant: str, model: str, replicas: int) -> list[str]:
    """Each replica's base URL, by its StatefulSet pod name: what the gateway's configuration lists."""
    return [f"http://{model}-{i}.{model}.{tenant}.svc.cluster.local:{Ports.LLM_BACKEND}" for i in range(replicas)]


def backend_args(model: LLMModel) -> list[str]:
    """`mlplat llm backend` for a registered LLM: the same command standalone runs."""
    return [
        "llm",
        "backend",
        f"models:/{model.name}@{model.alias}",
        "--name",
        model.name,
        "--host",
        "0.0.0.0",
        "--port",
        str(Ports.LLM_BACKEND),
        "--context",
        str(model.context_length),
        "--threads",
        str(model.threads),
        "--prompt-cache-mib",
        str(model.prompt_cache_mib),
        "--download-dir",
        f"{SCRATCH}/models",
    ]


@dataclass(frozen=True)
class LLMServiceArgs:
    tenant: str
    namespace: str
    model: LLMModel
    image: ImageRef
    tracking_uri: pulumi.Input[str]
    gateway_selector: dict[str, str]
    gateway_namespace: str = SYSTEM_NAMESPACE


class LLMService(pulumi.ComponentResource):
    """The replicas of one LLM, their headless Service, the gateway's way in and (replicated) a PDB."""

    def __init__(self, name: str, args: LLMServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:LLMService", name, None, opts)
        model, ns = args.model, args.namespace
        labels = standard_labels(
            model.name, args.tenant, LLM_COMPONENT, version=args.image.tag, tenant=args.tenant, model=model.name
        )
        select = selector_labels(model.name, args.tenant)
        child = pulumi.ResourceOptions(parent=self)
        # the GGUF and llama.cpp's working files go to scratch: size it for the model plus room
        scratch = "4Gi"
        container = {
            "name": "llm-backend",
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": backend_args(model),
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
                *credentials_env(SERVING_CREDENTIALS),
                {"name": "HOME", "value": SCRATCH},
            ],
            "ports": [{"name": "http", "containerPort": Ports.LLM_BACKEND}],
            "resources": resources(model.resources),
            "securityContext": restricted_container_security(),
            # ready once the model is loaded and answers; llama.cpp's server lists its model at /v1/models
            "readinessProbe": http_probe("/v1/models", "http", period=5),
            "livenessProbe": http_probe("/v1/models", "http", period=20, failure=6),
            "startupProbe": http_probe("/v1/models", "http", period=5, failure=120),
            "volumeMounts": [{"name": "tmp", "mountPath": SCRATCH}],
        }
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(model.name, ns, labels),
            spec={
                "clusterIP": "None",  # headless: one DNS name per replica, for prefix-aware routing
                "publishNotReadyAddresses": False,
                "selector": select,
                "ports": [{"name": "http", "port": Ports.LLM_BACKEND, "targetPort": "http"}],
            },
            opts=child,
        )
        k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=metadata(model.name, ns, labels),
            spec={
                "serviceName": model.name,
                "replicas": model.replicas,
                "podManagementPolicy": "Parallel",  # replicas are independent: start them together
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": SERVING_SERVICE_ACCOUNT,
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.PLATFORM_UID),
                        "containers": [container],
                        "volumes": [scratch_volume("tmp", scratch)],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-from-gateway",
            metadata=metadata(f"allow-llm-gateway-to-{model.name}", ns, labels),
            spec={
                "podSelector": {"matchLabels": select},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": args.gateway_namespace}
                                },
                                "podSelector": {"matchLabels": dict(args.gateway_selector)},
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": Ports.LLM_BACKEND}],
                    }
                ],
            },
            opts=child,
        )
        if model.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=metadata(model.name, ns, labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": select}},
                opts=child,
            )
        self.service_name = model.name
        self.register_outputs({"service": model.name, "namespace": ns, "replicas": model.replicas})
