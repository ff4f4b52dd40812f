"""The live cluster's objects, for the scheduled compliance check: what is there, not what was planned.

The check runs in a pod with a ServiceAccount that may list exactly the kinds below and read the three
monitoring and registry ConfigMaps it names (infra/components/compliance_check.py); nothing else, and no
Secret. It speaks plain HTTPS to the API server with the pod's token, like the training trigger's
launcher, so the platform image needs no Kubernetes client library. A list response does not repeat
`kind` on its items; it is put back, so the controls read live objects exactly like rendered ones.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["LISTED", "CONFIGMAPS", "LiveError", "ApiReader", "live_manifests"]

_SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")

# (API path, kind) of everything the controls read, listed across namespaces.
LISTED: tuple[tuple[str, str], ...] = (
    ("/api/v1/namespaces", "Namespace"),
    ("/api/v1/persistentvolumeclaims", "PersistentVolumeClaim"),
    ("/apis/apps/v1/deployments", "Deployment"),
    ("/apis/apps/v1/statefulsets", "StatefulSet"),
    ("/apis/batch/v1/cronjobs", "CronJob"),
    ("/apis/networking.k8s.io/v1/networkpolicies", "NetworkPolicy"),
    ("/apis/rbac.authorization.k8s.io/v1/roles", "Role"),
    ("/apis/rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding"),
    ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBinding"),
    ("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding"),
)
# (namespace, name) of the ConfigMaps read one by one: the alert rules, Alertmanager's routes, the
# registry access plans (the platform's and each dedicated registry's, in its tenant's namespace).
CONFIGMAPS: tuple[tuple[str, str], ...] = (
    ("mlops-monitoring", "prometheus-rules"),
    ("mlops-monitoring", "alertmanager-config"),
    ("mlops-system", "registry-access"),
)


class LiveError(RuntimeError):
    """The API server refused or did not answer; the message names the request."""


class ApiReader:
    def __init__(self, api: str, token: str, ca_file: str | None = None, timeout: float = 30.0):
        self.api = api.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.context = ssl.create_default_context(cafile=ca_file) if api.startswith("https") else None
        self.timeout = timeout

    @classmethod
    def in_cluster(cls) -> ApiReader:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise LiveError("--live reads the cluster from inside a pod (KUBERNETES_SERVICE_HOST is unset)")
        token = (_SERVICE_ACCOUNT / "token").read_text().strip()
        return cls(f"https://{host}:{port}", token, str(_SERVICE_ACCOUNT / "ca.crt"))

    def get(self, path: str) -> dict[str, Any] | None:
        """The object or list at `path`; None for a 404."""
        request = urllib.request.Request(self.api + path, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise LiveError(f"GET {path}: {exc.code} {exc.read().decode(errors='replace')[:300]}") from None
        except OSError as exc:
            raise LiveError(f"GET {path}: the API server did not answer ({exc})") from None


def live_manifests(reader: ApiReader, dedicated_registries: list[str]) -> list[dict[str, Any]]:
    """Every object the controls read, as manifests with their kind."""
    objects: list[dict[str, Any]] = []
    for path, kind in LISTED:
        listed = reader.get(path) or {}
        objects += [{"kind": kind, **item} for item in listed.get("items", [])]
    wanted = [*CONFIGMAPS, *((namespace, "registry-access") for namespace in dedicated_registries)]
    for namespace, name in wanted:
        found = reader.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        if found is not None:
            objects.append({"kind": "ConfigMap", **found})
    return objects
