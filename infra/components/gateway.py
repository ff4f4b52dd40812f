"""Gateway: the one front door to every tenant's model servers.

An unprivileged nginx in the platform namespace routes REST requests `/<tenant>/<model>/...` to
`<model>.<tenant>.svc:8080/...`, and gRPC calls of the Open Inference Protocol on its own port
(8001) to `<model>.<tenant>.svc:8081`. A gRPC call's path is the RPC's name
(`/inference.GRPCInferenceService/ModelInfer`), never the model's, so gRPC clients say where they
are going in a header: `mlplat-route: <tenant>/<model>` (tritonclient and KServe's client take
`headers=`); a call without a known route gets NOT_FOUND, an upstream that does not answer
UNAVAILABLE, both as gRPC statuses. Tenants' NetworkPolicies admit serving traffic only from these
pods, so the gateway is also the place to add authentication or rate limits later. nginx resolves
the upstream per request (`resolver` + a variable in `proxy_pass`/`grpc_pass`), so a model that is
added later, or is not up yet, never stops the gateway from starting.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import SYSTEM_NAMESPACE, NodePorts, Ports, selector_labels, standard_labels
from blueprints.schema import Blueprint
from infra import images
from infra.k8s import (
    SCRATCH,
    config_hash,
    http_probe,
    metadata,
    restricted_container_security,
    restricted_pod_security,
    scratch_volume,
)

__all__ = ["Gateway", "GatewayArgs", "gateway_selector", "nginx_config", "ROUTE_HEADER"]

NAME = "gateway"
INSTANCE = "platform"
ROUTE_HEADER = "mlplat-route"  # gRPC: `<tenant>/<model>`, the REST path prefix without its slashes


def gateway_selector() -> dict[str, str]:
    return selector_labels(NAME, INSTANCE)


def nginx_config(blueprint: Blueprint) -> str:
    """nginx.conf with one location per served model; a pure function, tested directly."""
    locations, routes = [], []
    for tenant in blueprint.tenants:
        for model in tenant.models:
            host = f"{model.name}.{tenant.name}.svc.cluster.local"
            locations.append(
                f"    location /{tenant.name}/{model.name}/ {{\n"
                f"      set $upstream {host}:{Ports.MODEL_SERVER};\n"
                f"      rewrite ^/{tenant.name}/{model.name}/(.*)$ /$1 break;\n"
                f"      proxy_pass http://$upstream;\n"
                f"    }}\n"
            )
            routes.append(f'    "{tenant.name}/{model.name}" {host}:{Ports.MODEL_SERVER_GRPC};\n')
    scratch = SCRATCH  # nginx keeps its pid and buffers in the pod's writable emptyDir
    return (
        "worker_processes 1;\n"
        f"pid {scratch}/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"  client_body_temp_path {scratch}/client_temp;\n"
        f"  proxy_temp_path {scratch}/proxy_temp;\n"
        f"  fastcgi_temp_path {scratch}/fastcgi_temp;\n"
        f"  uwsgi_temp_path {scratch}/uwsgi_temp;\n"
        f"  scgi_temp_path {scratch}/scgi_temp;\n"
        "  client_max_body_size 8m;\n"
        "  resolver kube-dns.kube-system.svc.cluster.local valid=10s;\n"
        "  server {\n"
        f"    listen {Ports.GATEWAY};\n"
        "    location = /healthz { return 200 'ok'; }\n" + "".join(locations) + "  }\n" + _grpc_server(routes) + "}\n"
    )


def _grpc_server(routes: list[str]) -> str:
    """The gRPC listener: cleartext HTTP/2 (what gRPC clients speak without TLS), the upstream chosen
    by the route header, errors answered as gRPC statuses (trailers-only responses)."""
    variable = "$http_" + ROUTE_HEADER.replace("-", "_")
    return (
        f"  map {variable} $grpc_upstream {{\n"
        '    default "";\n' + "".join(routes) + "  }\n"
        "  server {\n"
        # `listen ... http2`, not `http2 on` (nginx 1.25+): the gateway image built here is Debian's nginx 1.22,
        # which refuses `http2 on` (found on kind: the gateway crash-looped); 1.25+ still accepts this form
        f"    listen {Ports.GATEWAY_GRPC} http2;\n"
        "    location /inference.GRPCInferenceService/ {\n"
        "      error_page 418 = @no_route;\n"
        '      if ($grpc_upstream = "") { return 418; }\n'
        "      error_page 502 503 504 = @unavailable;\n"
        "      grpc_pass grpc://$grpc_upstream;\n"
        "    }\n"
        "    location @no_route {\n"
        "      default_type application/grpc;\n"
        "      add_header grpc-status 5 always;\n"
        f'      add_header grpc-message "no model at this route: send {ROUTE_HEADER}: <tenant>/<model>" always;\n'
        "      return 204;\n"
        "    }\n"
        "    location @unavailable {\n"
        "      default_type application/grpc;\n"
        "      add_header grpc-status 14 always;\n"
        '      add_header grpc-message "the model server does not answer" always;\n'
        "      return 204;\n"
        "    }\n"
        "  }\n"
    )


@dataclass(frozen=True)
class GatewayArgs:
    blueprint: Blueprint
    namespace: str = SYSTEM_NAMESPACE
    replicas: int = 1
    mirror: str | None = None  # platform.imageMirror: pull nginx from it


class Gateway(pulumi.ComponentResource):
    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Gateway", name, None, opts)
        ns = args.namespace
        labels = standard_labels(NAME, INSTANCE, "gateway")
        select = gateway_selector()
        child = pulumi.ResourceOptions(parent=self)
        config = nginx_config(args.blueprint)
        k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata("gateway-config", ns, labels),
            data={"nginx.conf": config},
            opts=child,
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(NAME, ns, labels),
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels, "annotations": config_hash(config)},  # new routes: new pods
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.GATEWAY_UID),
                        "containers": [
                            {
                                "name": "nginx",
                                "image": images.deployed(images.GATEWAY, args.mirror),
                                "args": ["nginx", "-g", "daemon off;", "-c", "/etc/gateway/nginx.conf"],
                                "ports": [
                                    {"name": "http", "containerPort": Ports.GATEWAY},
                                    {"name": "grpc", "containerPort": Ports.GATEWAY_GRPC},
                                ],
                                "resources": {
                                    "requests": {"cpu": "25m", "memory": "32Mi"},
                                    "limits": {"cpu": "500m", "memory": "128Mi"},
                                },
                                "securityContext": restricted_container_security(),
                                "readinessProbe": http_probe("/healthz", "http", period=5),
                                "livenessProbe": http_probe("/healthz", "http", period=10),
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/gateway", "readOnly": True},
                                    {"name": "tmp", "mountPath": "/tmp"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": "gateway-config"}},
                            scratch_volume("tmp", "64Mi"),
                        ],
                    },
                },
            },
            opts=child,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(NAME, ns, labels),
            spec={
                "type": "NodePort",
                "selector": select,
                "ports": [
                    {"name": "http", "port": Ports.GATEWAY, "targetPort": "http", "nodePort": NodePorts.GATEWAY},
                    {
                        "name": "grpc",
                        "port": Ports.GATEWAY_GRPC,
                        "targetPort": "grpc",
                        "nodePort": NodePorts.GATEWAY_GRPC,
                        "appProtocol": "kubernetes.io/h2c",
                    },
                ],
            },
            opts=child,
        )
        if args.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=metadata(NAME, ns, labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": select}},
                opts=child,
            )
        self.register_outputs({"service": NAME})
