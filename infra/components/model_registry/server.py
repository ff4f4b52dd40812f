"""The MLflow tracking and registry server, from the platform image.

- It runs MLflow's authentication app (`mlplat registry server`, ADR 0017): an admin password and a
  CSRF key generated into the `mlflow-admin` Secret, users and grants in the registry's own database
  (so backups carry them); RegistryAccess creates the users.
- Artifact storage is proxied (`--serve-artifacts`): clients talk only HTTP to MLflow and never need
  storage credentials; artifacts land on a PVC (ADR 0003).
- With `ha`, several replicas behind a PDB with anti-affinity: the server is stateless (its state is
  in PostgreSQL and on the artifact volume), so replicas are safe.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import Ports, standard_labels
from blueprints.schema import ImageRef, RegistrySettings
from infra import images
from infra.component import SubComponent
from infra.components.model_registry.database import RegistryDatabase, database_env
from infra.components.model_registry.names import ADMIN_SECRET, DATABASE_NAME, SERVER_NAME, server_selector
from infra.k8s import (
    SCRATCH,
    claim_metadata,
    http_probe,
    metadata,
    preferred_anti_affinity,
    resources,
    restricted_container_security,
    restricted_pod_security,
    scrape_annotations,
    scratch_volume,
)
from services.registry.access import ADMIN
from services.registry.server import ADMIN_PASSWORD_ENV, AUTH_DATABASE_ENV, FLASK_KEY_ENV, server_args

__all__ = ["TrackingServer", "TrackingServerArgs"]


@dataclass(frozen=True)
class TrackingServerArgs:
    namespace: str
    settings: RegistrySettings
    image: ImageRef
    database: RegistryDatabase  # the server starts once its database exists
    instance: str
    tenant: str | None = None
    ha: bool = False
    node_port: int | None = None  # the shared registry's UI, mapped to the host by kind


class TrackingServer(SubComponent):
    """The admin Secret, the artifact volume, the Deployment, its Service and (with replicas) a PDB."""

    def __init__(self, name: str, args: TrackingServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:TrackingServer", name, opts)
        ns, settings = args.namespace, args.settings
        labels = standard_labels(SERVER_NAME, args.instance, "registry-server", tenant=args.tenant)
        select = server_selector(args.instance)
        # MLflow's admin (only the access bootstrap signs in with it, ADR 0017) and the key that signs its
        # CSRF tokens, which every replica must share. Generated once, like the database password.
        admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=metadata(ADMIN_SECRET, ns, labels),
            type="Opaque",
            string_data={
                "username": ADMIN,
                "password": pulumi.Output.secret(secrets.token_urlsafe(24)),
                "flask-secret-key": pulumi.Output.secret(secrets.token_hex(32)),
            },
            opts=self.child(ignore_changes=["stringData", "data"]),
        )
        artifacts = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-artifacts",
            metadata=claim_metadata("mlflow-artifacts", ns, labels),
            spec={
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": str(settings.artifact_storage)}},
            },
            opts=self.child(),
        )
        pod_spec = _pod_spec(args)
        if args.ha:
            pod_spec["affinity"] = preferred_anti_affinity(select)
        k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=metadata(SERVER_NAME, ns, labels),
            spec={
                "replicas": settings.replicas,
                "selector": {"matchLabels": select},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": labels, "annotations": scrape_annotations(Ports.MLFLOW)},
                    "spec": pod_spec,
                },
            },
            opts=self.child(depends_on=[args.database.statefulset, artifacts, args.database.credentials, admin]),
        )
        service_port: dict = {"name": "http", "port": Ports.MLFLOW, "targetPort": "http"}
        service_spec: dict = {"selector": select, "ports": [service_port]}
        if args.node_port:
            service_spec["type"] = "NodePort"
            service_port["nodePort"] = args.node_port
        service = k8s.core.v1.Service(
            f"{name}-service", metadata=metadata(SERVER_NAME, ns, labels), spec=service_spec, opts=self.child()
        )
        if settings.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-server-pdb",
                metadata=metadata(SERVER_NAME, ns, labels),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": select}},
                opts=self.child(),
            )
        self.tracking_uri = service.metadata.apply(
            lambda m: f"http://{SERVER_NAME}.{ns}.svc.cluster.local:{Ports.MLFLOW}"
        )
        self.register_outputs({"tracking_uri": self.tracking_uri})


def _pod_spec(args: TrackingServerArgs) -> dict:
    ns = args.namespace
    # The driver is named: SQLAlchemy 2.1 made psycopg (3) the default for postgresql://, and the
    # platform image installs psycopg2 (pyproject.toml's services extra).
    db_uri = (
        f"postgresql+psycopg2://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@{DATABASE_NAME}:{Ports.POSTGRES}/$(POSTGRES_DB)"
    )
    # MLflow refuses a request whose Host header it does not know (DNS-rebinding protection). Besides its
    # Service names and the host's loopback (the UI through the NodePort), the pod's own address: the
    # kubelet's probes and Prometheus' pod discovery call it by IP (POD_IP, from the downward API below).
    allowed_hosts = ",".join(
        [
            f"{SERVER_NAME}",
            f"{SERVER_NAME}:*",
            f"{SERVER_NAME}.{ns}*",
            "localhost:*",
            "127.0.0.1:*",
            "$(POD_IP):*",
        ]
    )
    mlflow_args = [
        *("--backend-store-uri", db_uri, "--serve-artifacts", "--artifacts-destination", "/mlflow/artifacts"),
        # One worker (about 260 MB each, measured in the platform image): the Flask app runs in a thread
        # pool under uvicorn, so one worker serves requests concurrently; more capacity is more replicas.
        *("--host", "0.0.0.0", "--port", str(Ports.MLFLOW), "--workers", "1", "--allowed-hosts", allowed_hosts),
        # /metrics for Prometheus (request counts and latencies per endpoint)
        *("--expose-prometheus", f"{SCRATCH}/prometheus-metrics"),
    ]
    secret_env = [
        # users and grants live in the registry's own database (ADR 0017): backups carry them
        {"name": AUTH_DATABASE_ENV, "value": db_uri},
        {"name": ADMIN_PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "password"}}},
        {"name": FLASK_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "flask-secret-key"}}},
    ]
    return {
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod_security(images.PLATFORM_UID),
        "containers": [
            {
                "name": "mlflow",
                "image": args.image.ref,
                # `mlflow server --app-name basic-auth`, configured from the environment (server.py)
                "command": ["mlplat"],
                "args": server_args(mlflow_args),
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    *database_env(),
                    *secret_env,
                    {"name": "HOME", "value": "/tmp"},
                ],
                "ports": [{"name": "http", "containerPort": Ports.MLFLOW}],
                "resources": resources(args.settings.server),
                "securityContext": restricted_container_security(),
                "readinessProbe": http_probe("/health", "http", period=10),
                "livenessProbe": http_probe("/health", "http", period=20, failure=6, initial_delay=30),
                "volumeMounts": [
                    {"name": "artifacts", "mountPath": "/mlflow/artifacts"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [
            {"name": "artifacts", "persistentVolumeClaim": {"claimName": "mlflow-artifacts"}},
            scratch_volume("tmp", "1Gi"),
        ],
    }
