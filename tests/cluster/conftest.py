"""The cluster layer's fixtures: the platform `make up` deployed on the kind cluster, reached as a user does.

These tests need a running deployment of the foundation blueprint (`make up` on a machine with Docker).
Without one they skip, saying so; under `make test-kind` (tests/kind/run.py sets MLPLAT_CLUSTER_TESTS=1)
a missing cluster is a failure instead, so the kind layer can never pass by skipping.

Everything goes through kubectl on the cluster's own context (`kind-<name from infra/kind/cluster.yaml>`)
and through the NodePorts the kind config maps to 127.0.0.1, never through whatever context is current.
Pods the tests start are made from the platform's own pod templates (same image, user and labels), so
they pass the restricted Pod Security level and the admission policies like the platform's pods do.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from blueprints.loader import load
from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, NodePorts
from services.deploy.targets.kind import kind_config_cluster_name
from services.deploy.tools import tool

REQUIRED_ENV = "MLPLAT_CLUSTER_TESTS"  # "1": no cluster is a failure, not a skip
BLUEPRINT_ENV = "MLPLAT_CLUSTER_BLUEPRINT"  # the blueprint `make up` deployed [foundation]
GATEWAY = f"http://127.0.0.1:{NodePorts.GATEWAY}"
MLFLOW = f"http://127.0.0.1:{NodePorts.MLFLOW}"
PROMETHEUS = f"http://127.0.0.1:{NodePorts.PROMETHEUS}"


def wait_for(predicate: Callable[[], object], timeout: float, what: str, poll: float = 2.0):
    """The predicate's first truthy result; an AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def http_status(url: str, data: bytes | None = None, timeout: float = 5) -> int | str:
    """The HTTP status of a request, or the error that prevented one."""
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Cluster:
    """The kind cluster the platform runs on, through kubectl on its own context."""

    context: str
    kubectl_path: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 300) -> str:
        argv = [self.kubectl_path, "--context", self.context, *args]
        done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"`{' '.join(argv)}` exited {done.returncode}: {done.stderr.strip()}")
        return done.stdout if check else done.stdout + done.stderr

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def pod_template(self, namespace: str, cronjob: str) -> dict:
        """The pod template of one of the platform's CronJobs: a pod the platform itself would start."""
        return self.get("-n", namespace, "cronjob", cronjob)["spec"]["jobTemplate"]["spec"]["template"]

    def run_pod(
        self, namespace: str, name: str, template: dict, command: list[str], bare: bool = False, timeout: float = 240
    ) -> str:
        """Run `command` once in a pod made from `template` (its image, user, labels); its log, once it exits 0.
        `bare` drops what refers to the template's own namespace (environment from Secrets, volumes but
        emptyDirs), for a pod started elsewhere."""
        pod = json.loads(json.dumps(template))
        pod["spec"].update({"restartPolicy": "Never", "terminationGracePeriodSeconds": 0})
        container = pod["spec"]["containers"][0]
        container.update({"command": command, "args": []})
        if bare:
            container.pop("env", None)
            container.pop("envFrom", None)
            pod["spec"]["volumes"] = [v for v in pod["spec"].get("volumes", []) if "emptyDir" in v]
            kept = {v["name"] for v in pod["spec"]["volumes"]}
            container["volumeMounts"] = [m for m in container.get("volumeMounts", []) if m["name"] in kept]
            pod["spec"].pop("serviceAccountName", None)
            pod["spec"].pop("serviceAccount", None)
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": pod["metadata"].get("labels", {})},
            "spec": pod["spec"],
        }
        self.kubectl("-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait")
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        try:
            phase = wait_for(
                lambda: (
                    self.get("-n", namespace, "pod", name)["status"].get("phase") in ("Succeeded", "Failed")
                    and self.get("-n", namespace, "pod", name)["status"]["phase"]
                ),
                timeout,
                f"pod {namespace}/{name} to finish",
            )
            log = self.kubectl("-n", namespace, "logs", name)
            assert phase == "Succeeded", f"pod {namespace}/{name} failed:\n{log}"
            return log
        finally:
            self.kubectl("-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait=false", check=False)


def _cluster_or_reason() -> tuple[Cluster | None, str]:
    context = f"kind-{kind_config_cluster_name()}"
    kubectl = tool("kubectl")
    try:
        done = subprocess.run(
            [kubectl, "--context", context, "get", "namespace", SYSTEM_NAMESPACE, MONITORING_NAMESPACE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"kubectl does not run ({exc}): `make toolchain` builds it"
    if done.returncode != 0:
        return None, f"no platform on the kind context {context} ({done.stderr.strip()[:200]}): run `make up` first"
    if http_status(f"{MLFLOW}/health") != 200:
        return None, f"the platform's NodePorts do not answer on 127.0.0.1 (MLflow: {MLFLOW}/health)"
    return Cluster(context, kubectl), ""


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    found, reason = _cluster_or_reason()
    if found is None:
        if os.environ.get(REQUIRED_ENV) == "1":
            pytest.fail(f"{REQUIRED_ENV}=1 and {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def blueprint():
    return load(os.environ.get(BLUEPRINT_ENV, "foundation"))


@pytest.fixture(scope="session")
def tenant(blueprint):
    return blueprint.tenants[0]


@pytest.fixture(scope="session")
def served_model(cluster, blueprint, tenant, tmp_path_factory):
    """The tenant's first model, served through the gateway: when it has no champion yet, the demo's own
    train and gate steps register and promote one (as the tenant's user, then the gate's)."""
    model = tenant.models[0]
    ready = f"{GATEWAY}/{tenant.name}/{model.name}/v2/health/ready"
    if http_status(ready) != 200:
        import mlflow

        from services.demo import steps
        from services.demo.cluster import ClusterPlatform
        from services.demo.walk import Walk

        root = tmp_path_factory.mktemp("demo")
        walk = Walk(
            blueprint, ClusterPlatform(Path(root), kubectl=cluster.kubectl_path, context=cluster.context), print
        )
        mlflow.set_tracking_uri(MLFLOW)  # as `mlplat demo` does: training logs to the cluster's registry
        steps.train(walk)
        steps.gate(walk)
        wait_for(lambda: http_status(ready) == 200, 300, f"{tenant.name}/{model.name} to serve its champion")
    return model
