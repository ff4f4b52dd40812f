"""RegistryAccess: the users of one registry, their Secrets, and the Job that grants their permissions.

MLflow runs its authentication app with nothing granted by default (services/registry/server.py);
what each user may do is the blueprint's access plan (services/registry/access.py, ADR 0017). This
component, for one registry (the shared one, or a tenant's dedicated one):

- generates each user's password once (ADR 0002: `secrets.token_urlsafe`, a Pulumi secret,
  `ignore_changes`), into a Secret `mlflow-user-<user>` in the registry's namespace, which the
  bootstrap Job reads, and a copy where the user's workloads run:
      <tenant>          -> `mlflow-credentials` in the tenant's namespace (training Jobs)
      <tenant>.serving  -> `mlflow-serving-credentials` there (model servers, batch jobs)
      platform.gate     -> the registry's namespace itself (the training trigger)
      platform.monitoring -> `registry-monitoring-<instance>` in the monitoring namespace (Prometheus)
  Both copies get the same generated value in the same run; rotate a user by deleting both and
  running `pulumi up` (the Job then sets the new password);
- puts the plan in a ConfigMap and runs `mlplat registry bootstrap` (the command standalone runs at
  start-up) as a Job named after the plan's and the image's digest, so a changed blueprint is a new Job. The Job
  signs in as the admin (the `mlflow-admin` Secret of ModelRegistry) and waits for the registry
  itself; Pulumi does not wait for it (`pulumi.com/skipAwait`), so a deploy never blocks on a
  container, and its log is the record of what was granted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import MONITORING_NAMESPACE, Ports, standard_labels
from blueprints.schema import ImageRef
from infra import images
from infra.components.model_registry import ADMIN_SECRET
from infra.k8s import job_name, metadata, restricted_container_security, run_to_completion, scratch_volume
from services.registry import SERVER
from services.registry.access import GATE, MONITORING, AccessPlan, bootstrap_args, password_env, serving_user
from services.registry.credentials import PASSWORD_ENV, USERNAME_ENV, generate_password

__all__ = [
    "RegistryAccess",
    "RegistryAccessArgs",
    "ADMIN_SECRET",
    "TENANT_CREDENTIALS",
    "SERVING_CREDENTIALS",
    "COMPONENT",
    "user_secret",
    "monitoring_secret",
    "credentials_env",
]

TENANT_CREDENTIALS = "mlflow-credentials"
SERVING_CREDENTIALS = "mlflow-serving-credentials"
COMPONENT = "registry-access"
PLAN_DIR = "/etc/registry-access"


def user_secret(user: str) -> str:
    """`platform.gate` -> `mlflow-user-platform-gate` (Secret names are DNS subdomains)."""
    return "mlflow-user-" + re.sub(r"[^a-z0-9-]", "-", user.lower())


def monitoring_secret(instance: str) -> str:
    return f"registry-monitoring-{instance}"


def credentials_env(secret: str) -> list[dict]:
    """The variables MLflow's client signs in with, from a credentials Secret."""
    return [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}}
        for name in (USERNAME_ENV, PASSWORD_ENV)
    ]


@dataclass(frozen=True)
class RegistryAccessArgs:
    plan: AccessPlan
    namespace: str  # the registry's
    image: ImageRef
    tenant_namespaces: dict[str, str]  # tenant -> its namespace, for the tenants in the plan
    monitoring_namespace: str = MONITORING_NAMESPACE


class RegistryAccess(pulumi.ComponentResource):
    """Secrets for every user of one registry, and the bootstrap Job."""

    def __init__(self, name: str, args: RegistryAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:RegistryAccess", name, None, opts)
        plan, ns = args.plan, args.namespace
        labels = standard_labels(COMPONENT, plan.instance, COMPONENT)
        keep = pulumi.ResourceOptions(parent=self, ignore_changes=["stringData", "data"])  # generated once
        secrets: list[pulumi.Resource] = []

        def secret(resource: str, secret_name: str, namespace: str, data: dict, tenant: str | None = None):
            secret_labels = standard_labels(COMPONENT, plan.instance, "credentials", tenant=tenant)
            secrets.append(
                k8s.core.v1.Secret(
                    resource,
                    metadata=metadata(secret_name, namespace, secret_labels),
                    type="Opaque",
                    string_data=data,
                    opts=keep,
                )
            )

        for user in plan.users:
            password = pulumi.Output.secret(generate_password())
            credentials = {USERNAME_ENV: user, PASSWORD_ENV: password}
            secret(f"{name}-{user}", user_secret(user), ns, credentials)
            tenant = next((t for t in args.tenant_namespaces if user in (t, serving_user(t))), None)
            if tenant is not None:
                copy = SERVING_CREDENTIALS if user == serving_user(tenant) else TENANT_CREDENTIALS
                secret(f"{name}-{user}-copy", copy, args.tenant_namespaces[tenant], credentials, tenant)
            elif user == MONITORING:
                secret(
                    f"{name}-{user}-copy",
                    monitoring_secret(plan.instance),
                    args.monitoring_namespace,
                    {"password": password},
                )
            elif user != GATE:  # the gate reads its Secret in the registry's namespace
                raise ValueError(f"registry user {user!r} has no workload to hand its credentials to")

        config = k8s.core.v1.ConfigMap(
            f"{name}-plan",
            metadata=metadata(COMPONENT, ns, labels),
            data={"access.json": plan.to_json()},
            opts=pulumi.ResourceOptions(parent=self),
        )
        env = [
            {"name": USERNAME_ENV, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "username"}}},
            {"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": ADMIN_SECRET, "key": "password"}}},
            *(
                {
                    "name": password_env(user),
                    "valueFrom": {"secretKeyRef": {"name": user_secret(user), "key": PASSWORD_ENV}},
                }
                for user in plan.users
            ),
            {"name": "HOME", "value": "/tmp"},
        ]
        job = job_name(COMPONENT, plan.to_json(), args.image.ref)
        k8s.batch.v1.Job(
            f"{name}-bootstrap",
            metadata=metadata(
                job,
                ns,
                labels,
                # Nothing at deploy time waits for a container: the Job waits for the registry itself.
                {"pulumi.com/skipAwait": "true", "platform.mlops/access-plan": plan.digest()},
            ),
            spec=run_to_completion(
                labels,
                images.PLATFORM_UID,
                [
                    {
                        "name": "bootstrap",
                        "image": args.image.ref,
                        "command": ["mlplat"],
                        "args": bootstrap_args(f"{PLAN_DIR}/access.json", _in_cluster_uri(ns)),
                        "env": env,
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "192Mi"},
                            "limits": {"cpu": "500m", "memory": "384Mi"},
                        },
                        "securityContext": restricted_container_security(),
                        "volumeMounts": [
                            {"name": "plan", "mountPath": PLAN_DIR, "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                [{"name": "plan", "configMap": {"name": COMPONENT}}, scratch_volume("tmp", "64Mi")],
                backoff_limit=6,
                deadline_seconds=1800,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[config, *secrets]),
        )
        self.job_name = job
        self.register_outputs({"job": job, "users": list(plan.users)})


def _in_cluster_uri(namespace: str) -> str:
    return f"http://{SERVER}.{namespace}.svc:{Ports.MLFLOW}"
