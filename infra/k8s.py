"""Small builders for the Kubernetes fragments every component repeats.

Components pass plain dicts spelled exactly like Kubernetes YAML (camelCase), so a reader can
compare them with `make render` output line by line. These helpers hold the fragments that must be
identical everywhere: object metadata, the restricted security context, writable scratch volumes,
HTTP probes and Prometheus scrape annotations.
"""

from __future__ import annotations

import hashlib
from typing import Any

from blueprints.naming import standard_labels

# Where every pod mounts its writable emptyDir (`scratch_volume`); the root filesystem is read-only.
SCRATCH = "/tmp"

__all__ = [
    "SCRATCH",
    "metadata",
    "restricted_container_security",
    "restricted_pod_security",
    "http_probe",
    "scratch_volume",
    "resources",
    "scrape_annotations",
    "preferred_anti_affinity",
    "run_to_completion",
    "job_name",
    "claim_metadata",
]


def metadata(
    name: str, namespace: str | None, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def labels(name: str, instance: str, component: str, **extra: str | None) -> dict[str, str]:
    return standard_labels(name, instance, component, **extra)


def restricted_pod_security(uid: int, *, fs_group: bool = True) -> dict[str, Any]:
    """Pod-level settings that satisfy the `restricted` Pod Security Standard."""
    context: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group:
        context["fsGroup"] = uid
    return context


def restricted_container_security() -> dict[str, Any]:
    """Container-level settings: read-only root, no privilege escalation, every capability dropped."""
    return {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(
    path: str, port: str | int, *, period: int = 10, failure: int = 3, initial_delay: int = 0, scheme: str = "HTTP"
) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": port, "scheme": scheme},
        "periodSeconds": period,
        "failureThreshold": failure,
        "timeoutSeconds": 3,
    }
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    return probe


def grpc_probe(port: int, *, period: int = 10, failure: int = 3) -> dict[str, Any]:
    """A probe calling gRPC's health checking protocol (grpc.health.v1.Health/Check) on `port`; the
    kubelet's `grpc` probe takes a port number, not a name."""
    return {"grpc": {"port": port}, "periodSeconds": period, "failureThreshold": failure, "timeoutSeconds": 3}


def scratch_volume(name: str = "tmp", size: str = "256Mi") -> dict[str, Any]:
    """An emptyDir for the writable paths a read-only root filesystem still needs (/tmp, caches)."""
    return {"name": name, "emptyDir": {"sizeLimit": size}}


def resources(spec: Any) -> dict[str, Any]:
    """A blueprint `Resources` as a container's `resources` block."""
    return {
        "requests": {"cpu": str(spec.requests.cpu), "memory": str(spec.requests.memory)},
        "limits": {"cpu": str(spec.limits.cpu), "memory": str(spec.limits.memory)},
    }


def scrape_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    """The pod annotations the platform's Prometheus discovers scrape targets by."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


def preferred_anti_affinity(selector: dict[str, str]) -> dict[str, Any]:
    """Spread replicas over nodes when there are several; never block scheduling on one node."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": dict(selector)},
                    },
                }
            ]
        }
    }


CONFIG_HASH = "platform.mlops/config-hash"


def config_hash(*contents: str) -> dict[str, str]:
    """A pod-template annotation that changes whenever the configuration its pods read at start changes.

    nginx, Prometheus, Alertmanager and Grafana read their files once; a ConfigMap update alone would
    leave them on the old configuration until something restarts them. With the hash in the template,
    a configuration change is a Deployment change, and Kubernetes rolls the pods (make test-engine saw
    a new tenant's routes planned as a ConfigMap change only, before this)."""
    digest = hashlib.sha256("\0".join(contents).encode()).hexdigest()[:16]
    return {CONFIG_HASH: digest}


def claim_metadata(
    name: str, namespace: str, labels: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """A PersistentVolumeClaim's metadata. Pulumi does not wait on claims: with a WaitForFirstConsumer
    class (kind's `standard`, most clouds') a claim binds only once a pod uses it, and the provider this
    platform pins (4.25) then times out on any update of a bound claim, a label change included
    (pulumi/pulumi-kubernetes#4179, fixed after it); seen on kind. The pods that mount a claim wait for
    it anyway."""
    return metadata(name, namespace, labels, {**(annotations or {}), "pulumi.com/skipAwait": "true"})


def job_name(prefix: str, *inputs: str) -> str:
    """A Job's name after everything its pods run (script, plan, image): a Job's pod template cannot be
    changed, so a change must be a new Job, created beside the old one. A name that stayed the same would
    make Pulumi delete and recreate the Job under one name, which the API refuses while the old one is
    still being deleted (seen on kind when the platform image changed)."""
    return f"{prefix}-{hashlib.sha256(chr(0).join(inputs).encode()).hexdigest()[:10]}"


def run_to_completion(
    labels: dict[str, str],
    uid: int,
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    *,
    backoff_limit: int,
    deadline_seconds: int,
    service_account: str | None = None,
) -> dict[str, Any]:
    """The spec of a Job (or of a CronJob's `jobTemplate`) whose pods run once: labelled like the Job
    (the required-labels rule), not restarted in place (a failed pod is a new pod, up to
    `backoff_limit`), stopped after `deadline_seconds`, without an API token, under the restricted
    pod security. `service_account` names the identity its NetworkPolicies select, if any."""
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    if service_account:
        pod["serviceAccountName"] = service_account
    pod.update(
        automountServiceAccountToken=False,
        securityContext=restricted_pod_security(uid),
        containers=containers,
        volumes=volumes,
    )
    return {
        "backoffLimit": backoff_limit,
        "activeDeadlineSeconds": deadline_seconds,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
