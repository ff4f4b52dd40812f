"""The demo's platform on a cluster the kind path deployed: reached through its NodePorts and kubectl.

The UIs and APIs the kind config maps to the host's loopback (MLflow, Prometheus, the serving gateway)
are called there; everything else goes through kubectl, as an operator would: users' passwords are read
from their Secrets, a batch job runs as a Job made from its CronJob (`kubectl create job --from`), its
files move in and out through a short-lived pod that mounts the job's volume with the job's own pod spec
(so it passes the same admission rules), and the training trigger's audit log is read from its pod.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, NodePorts, Ports
from services.demo.running import DemoError
from services.registry.credentials import PASSWORD_ENV, USERNAME_ENV, Credentials

__all__ = ["ClusterPlatform"]

# Components the demo needs to exist, by Deployment: (namespace, Deployment, how the demo reaches it).
_COMPONENTS = {
    "mlflow": (SYSTEM_NAMESPACE, "mlflow", f"http://127.0.0.1:{NodePorts.MLFLOW}"),
    "prometheus": (MONITORING_NAMESPACE, "prometheus", f"http://127.0.0.1:{NodePorts.PROMETHEUS}"),
    "alertmanager": (
        MONITORING_NAMESPACE,
        "alertmanager",
        f"http://alertmanager.mlops-monitoring.svc:{Ports.ALERTMANAGER}",
    ),
    "training-trigger": (
        SYSTEM_NAMESPACE,
        "training-trigger",
        f"http://training-trigger.mlops-system.svc:{Ports.TRAINING_TRIGGER}",
    ),
}
AUDIT_LOG = "/var/lib/mlplat/audit/promotions.jsonl"  # the trigger's (infra/components/training_trigger.py)


@dataclass
class ClusterPlatform:
    """A platform the kind path deployed, seen through kubectl and the host's NodePorts."""

    root: Path
    kubectl: str = "kubectl"
    context: str = "kind-mlops"
    _data_pods: dict[str, tuple[str, str]] = field(default_factory=dict)  # job -> (namespace, pod)

    def _kubectl(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        argv = [self.kubectl, "--context", self.context, *args]
        done = subprocess.run(argv, input=input, capture_output=True, check=False, timeout=900)
        if check and done.returncode != 0:
            raise DemoError(f"`{' '.join(argv)}` failed: {done.stderr.decode(errors='replace').strip()}")
        return done

    def url(self, component: str) -> str | None:
        namespace, deployment, url = _COMPONENTS[component]
        found = self._kubectl("-n", namespace, "get", "deployment", deployment, check=False)
        return url if found.returncode == 0 else None

    def model_url(self, tenant: str, model: str) -> str | None:
        return f"http://127.0.0.1:{NodePorts.GATEWAY}/{tenant}/{model}"  # the serving gateway's route

    def missing(self, component: str) -> str:
        namespace, deployment, _ = _COMPONENTS.get(component, ("?", component, ""))
        return f"{component} is not deployed in the cluster (no Deployment {namespace}/{deployment})"

    def user(self, name: str) -> Credentials:
        """A registry user's credentials, from the Secret RegistryAccess made for it."""
        from infra.components.registry_access import user_secret

        secret = json.loads(
            self._kubectl("-n", SYSTEM_NAMESPACE, "get", "secret", user_secret(name), "-o", "json").stdout
        )
        data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        return Credentials(data[USERNAME_ENV], data[PASSWORD_ENV])

    def schedules(self, kind: str) -> list[dict]:
        """The batch jobs' CronJobs, each with the command its pods run and where."""
        if kind != "batch":
            return []
        listing = json.loads(
            self._kubectl(
                "get", "cronjobs", "-A", "-l", "app.kubernetes.io/component=batch-scoring", "-o", "json"
            ).stdout
        )
        out = []
        for cron in listing["items"]:
            pod = cron["spec"]["jobTemplate"]["spec"]["template"]
            container = pod["spec"]["containers"][0]
            out.append(
                {
                    "name": cron["metadata"]["name"],
                    "namespace": cron["metadata"]["namespace"],
                    "schedule": cron["spec"]["schedule"],
                    "command": [*container.get("command", []), *container.get("args", [])],
                    "pod": pod,
                }
            )
        return out

    def run_now(self, schedule: dict) -> subprocess.CompletedProcess:
        """A Job from the CronJob (`kubectl create job --from`), waited for; its log is the output."""
        ns, name = schedule["namespace"], f"{schedule['name']}-demo-{int(time.time())}"
        self._kubectl("-n", ns, "create", "job", f"--from=cronjob/{schedule['name']}", name)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status = json.loads(self._kubectl("-n", ns, "get", "job", name, "-o", "json").stdout).get("status", {})
            if status.get("succeeded") or status.get("failed"):
                logs = self._kubectl("-n", ns, "logs", f"job/{name}", check=False)
                code = 0 if status.get("succeeded") else 1
                return subprocess.CompletedProcess(
                    [name], code, logs.stdout.decode(), logs.stderr.decode() + logs.stdout.decode()
                )
            time.sleep(3)
        raise DemoError(f"job {ns}/{name} did not finish within 900 s: `kubectl -n {ns} describe job {name}`")

    def read(self, schedule: dict, path: str) -> bytes:
        return self._kubectl("-n", schedule["namespace"], "exec", self._data_pod(schedule), "--", "cat", path).stdout

    def write(self, schedule: dict, path: str, data: bytes) -> None:
        folder = str(Path(path).parent)
        script = f"mkdir -p '{folder}' && cat > '{path}'"
        self._kubectl(
            "-n", schedule["namespace"], "exec", "-i", self._data_pod(schedule), "--", "sh", "-c", script, input=data
        )

    def _data_pod(self, schedule: dict) -> str:
        """A pod with the job's own spec (its volume, user, image, labels), asleep, to move files through."""
        if schedule["name"] in self._data_pods:
            return self._data_pods[schedule["name"]][1]
        name, ns = f"{schedule['name']}-demo-files", schedule["namespace"]
        pod = json.loads(json.dumps(schedule["pod"]))
        pod["spec"]["restartPolicy"] = "Never"
        pod["spec"]["terminationGracePeriodSeconds"] = 0  # `sleep` ignores SIGTERM: no 30 s wait on delete
        pod["spec"]["containers"][0].update({"command": ["sleep", "900"], "args": []})
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**pod["metadata"], "name": name, "namespace": ns},
            "spec": pod["spec"],
        }
        self._kubectl("-n", ns, "delete", "pod", name, "--ignore-not-found", "--wait")
        self._kubectl("apply", "-f", "-", input=json.dumps(manifest).encode())
        self._kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=300s")
        self._data_pods[schedule["name"]] = (ns, name)
        return name

    def done_with(self, schedule: dict) -> None:
        """Delete the pod that moved the job's files, and wait until it is gone: the node's CPU is tight
        (a 2-CPU kind node has no room for it beside a training run)."""
        namespace, pod = self._data_pods.pop(schedule["name"], (None, None))
        if pod is not None:
            self._kubectl("-n", namespace, "delete", "pod", pod, "--wait", check=False)

    def close(self) -> None:
        """Remove the pods the demo started to move files."""
        for namespace, pod in self._data_pods.values():
            self._kubectl("-n", namespace, "delete", "pod", pod, "--wait=false", check=False)

    def audit_log(self) -> Path:
        return self.root / "kind" / "audit" / "promotions.jsonl"  # the demo's own gate decisions

    def audit_entries(self) -> list[dict]:
        done = self._kubectl(
            "-n", SYSTEM_NAMESPACE, "exec", "deploy/training-trigger", "--", "cat", AUDIT_LOG, check=False
        )
        return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]

    def feature_data(self, tenant: str) -> Path:
        raise DemoError(
            "step features: on a cluster, a feature store's data lives in its volume; the demo writes it on the "
            "standalone platform only (`mlplat up --target standalone`)"
        )

    def feature_repo(self, tenant: str) -> Path:
        return self.feature_data(tenant)
