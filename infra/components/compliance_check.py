"""ComplianceCheck: the compliance controls, checked on a schedule against the live cluster (ADR 0024).

Created when the blueprint declares `platform.compliance`. In the platform namespace:
- an OPA server (`opa run --server`, the pinned upstream image) with the controls of policies/compliance/
  from a ConfigMap: the same Rego `mlplat compliance report` evaluates with `opa eval`, tests excluded;
- a CronJob on `platform.compliance.schedule` running that same command from the platform image with
  `--live` (the objects as the API server has them), `--registry` (the shared registry, signed in as the
  gate's user, which reads every model) and `--opa-url` (the server above), which pushes each control's
  status to the Pushgateway: ComplianceControlFailing fires on a failing control, ComplianceCheckLate
  when the check stops reporting (services/monitoring/rules.py);
- the blueprint it checks against, in a ConfigMap (a custom blueprint is not in the image);
- a ServiceAccount whose ClusterRole may list exactly the kinds the controls read and get the three
  ConfigMaps they name (services/compliance/live.py), and read no Secret.
Dedicated registries are not read (the check has no user there, and their namespaces admit no one).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import yaml

from blueprints.cron import parse_cron
from blueprints.naming import SYSTEM_NAMESPACE, selector_labels, standard_labels
from blueprints.schema import Blueprint, ImageRef
from infra import images
from infra.components.registry_access import credentials_env, user_secret
from infra.k8s import (
    http_probe,
    metadata,
    restricted_container_security,
    restricted_pod_security,
    run_to_completion,
    scratch_volume,
)
from services.compliance.live import CONFIGMAPS, LISTED
from services.compliance.opa import policy_files
from services.registry.access import GATE

__all__ = ["ComplianceCheck", "ComplianceCheckArgs", "OPA", "OPA_PORT", "CHECK", "READER_RULES", "opa_url"]

OPA = "opa"
OPA_PORT = 8181
CHECK = "compliance-check"
INSTANCE = "platform"
BLUEPRINT_DIR = "/etc/mlplat/compliance"


def _reader_rules() -> list[dict]:
    """list on every kind the controls read, get on the named ConfigMaps: nothing more."""
    by_group: dict[str, list[str]] = {}
    for path, _ in LISTED:
        parts = path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        by_group.setdefault(group, []).append(parts[-1])
    rules = [{"apiGroups": [group], "resources": sorted(found), "verbs": ["list"]} for group, found in by_group.items()]
    names = sorted({name for _, name in CONFIGMAPS})
    rules.append({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": names, "verbs": ["get"]})
    return rules


READER_RULES = _reader_rules()


def opa_url(namespace: str = SYSTEM_NAMESPACE) -> str:
    return f"http://{OPA}.{namespace}.svc:{OPA_PORT}"


SCRATCH = "/tmp"  # inside the pod: the scratch emptyDir (read-only root), where the report is written


@dataclass(frozen=True)
class ComplianceCheckArgs:
    blueprint: Blueprint
    image: ImageRef
    tracking_uri: pulumi.Input[str]
    pushgateway_url: str
    namespace: str = SYSTEM_NAMESPACE
    mirror: str | None = None  # platform.imageMirror (infra/images.deployed)


class ComplianceCheck(pulumi.ComponentResource):
    """The OPA server with the controls, and the CronJob that checks the live cluster against them."""

    def __init__(self, name: str, args: ComplianceCheckArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:ComplianceCheck", name, None, opts)
        settings = args.blueprint.platform.compliance
        if settings is None:
            raise ValueError("ComplianceCheck needs platform.compliance in the blueprint")
        child = pulumi.ResourceOptions(parent=self)
        self._opa_server(name, args, child)
        self._identity(name, args, child)
        self._check(name, args, settings.schedule, child)
        self.opa_url = opa_url(args.namespace)
        self.register_outputs({"opa_url": self.opa_url})

    def _opa_server(self, name: str, args: ComplianceCheckArgs, child: pulumi.ResourceOptions) -> None:
        ns, labels = args.namespace, standard_labels(OPA, INSTANCE, "policy-engine")
        k8s.core.v1.ConfigMap(
            f"{name}-policies",
            metadata=metadata("compliance-policies", ns, labels),
            data={path.name: path.read_text(encoding="utf-8") for path in policy_files()},
            opts=child,
        )
        container = {
            "name": OPA,
            "image": images.deployed(images.OPA, args.mirror),
            "args": [
                "run",
                "--server",
                f"--addr=:{OPA_PORT}",
                "--disable-telemetry",
                "--log-level=error",
                "/policies",
            ],  # fmt: skip
            "ports": [{"name": "http", "containerPort": OPA_PORT}],
            "resources": {"requests": {"cpu": "25m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
            "securityContext": restricted_container_security(),
            "readinessProbe": http_probe("/health", "http"),
            "livenessProbe": http_probe("/health", "http", failure=6),
            "volumeMounts": [{"name": "policies", "mountPath": "/policies", "readOnly": True}],
        }
        select = selector_labels(OPA, INSTANCE)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-opa",
            metadata=metadata(OPA, ns, labels),
            spec={
                "replicas": 1,  # a scheduled check tolerates a restart; it runs again on the next tick
                "selector": {"matchLabels": select},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": restricted_pod_security(images.OPA_UID),
                        "containers": [container],
                        "volumes": [{"name": "policies", "configMap": {"name": "compliance-policies"}}],
                    },
                },
            },
            opts=child,
        )
        k8s.core.v1.Service(
            f"{name}-opa-service",
            metadata=metadata(OPA, ns, labels),
            spec={"selector": select, "ports": [{"name": "http", "port": OPA_PORT, "targetPort": "http"}]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )

    def _identity(self, name: str, args: ComplianceCheckArgs, child: pulumi.ResourceOptions) -> None:
        labels = standard_labels(CHECK, INSTANCE, "rbac")
        k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=metadata(CHECK, args.namespace, labels), opts=child)
        k8s.rbac.v1.ClusterRole(
            f"{name}-reader", metadata=metadata(f"mlops-{CHECK}", None, labels), rules=READER_RULES, opts=child
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-reader-binding",
            metadata=metadata(f"mlops-{CHECK}", None, labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"mlops-{CHECK}"},
            subjects=[{"kind": "ServiceAccount", "name": CHECK, "namespace": args.namespace}],
            opts=child,
        )

    def _check(self, name: str, args: ComplianceCheckArgs, schedule: str, child: pulumi.ResourceOptions) -> None:
        ns, labels = args.namespace, standard_labels(CHECK, INSTANCE, CHECK, version=args.image.tag)
        document = args.blueprint.model_dump(by_alias=True, mode="json", exclude_none=True)
        k8s.core.v1.ConfigMap(
            f"{name}-blueprint",
            metadata=metadata("compliance-blueprint", ns, labels),
            data={"blueprint.yaml": yaml.safe_dump(document, sort_keys=False)},
            opts=child,
        )
        container = {
            "name": CHECK,
            "image": args.image.ref,
            "command": ["mlplat"],
            "args": [
                "compliance",
                "report",
                "--framework",
                "all",
                "--live",
                "--blueprint",
                f"{BLUEPRINT_DIR}/blueprint.yaml",
                "--opa-url",
                opa_url(ns),
                "--registry",
                args.tracking_uri,
                "--push-gateway",
                args.pushgateway_url,
                "--schedule-seconds",
                str(parse_cron(schedule).max_interval_seconds),
                "--out",
                f"{SCRATCH}/compliance",
            ],  # fmt: skip
            "env": [
                *credentials_env(user_secret(GATE)),  # reads every model's versions, tags and aliases
                {"name": "HOME", "value": SCRATCH},
            ],
            "resources": {"requests": {"cpu": "100m", "memory": "384Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "securityContext": restricted_container_security(),
            "volumeMounts": [
                {"name": "blueprint", "mountPath": BLUEPRINT_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": SCRATCH},
            ],
        }
        job = run_to_completion(
            labels,
            images.PLATFORM_UID,
            [container],
            [{"name": "blueprint", "configMap": {"name": "compliance-blueprint"}}, scratch_volume("tmp", "256Mi")],
            backoff_limit=1,
            deadline_seconds=15 * 60,
            service_account=CHECK,
        )
        job["template"]["spec"]["automountServiceAccountToken"] = True  # it lists objects through the API
        k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=metadata(CHECK, ns, labels),
            spec={
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 1,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"metadata": {"labels": labels}, "spec": job},
            },
            opts=child,
        )
