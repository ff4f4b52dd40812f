"""Where a training run runs: a subprocess in standalone, a Kubernetes Job in the cluster.

Both run the same command (`TrainingTarget.args`, from services/training/command.py) with the MLflow
run to log into in the environment (MLPLAT_TRAINING_RUN_ID). A launcher starts a run and hands back a
`RunHandle` the trigger polls; `active()` tells whether a run of that model is already going, which
for Jobs means asking the API server, so a restarted trigger still never starts a second one.

The cluster launcher creates the Job from the model's Job template: a CronJob that stays suspended
(Kubernetes has no Job template object; `kubectl create job --from=cronjob/...` uses the same
convention). Pulumi renders that CronJob with the image, resources, security context and labels, so
the trigger needs to know nothing about how a training pod is built, and its RBAC is narrow: read the
templates, create and read Jobs, in the tenant namespaces that have trained models.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from services.standalone.supervisor import die_with_parent
from services.training.command import RUN_ID_ENV, TRIGGER_ENV
from services.training.targets import TrainingTarget

__all__ = ["RunHandle", "Launcher", "SubprocessLauncher", "KubernetesJobLauncher", "LaunchError"]

RUN_ANNOTATION = "platform.mlops/mlflow-run"


class LaunchError(RuntimeError):
    """A run could not be started; the message says where and why."""


class RunHandle(Protocol):
    where: str  # a log file or a Job, for the audit entry and the operator

    def poll(self) -> bool | None:
        """None while running, then True (succeeded) or False (failed)."""

    def stop(self) -> None: ...


class Launcher(Protocol):
    def launch(self, target: TrainingTarget, run_id: str, trigger: str) -> RunHandle: ...

    def active(self, target: TrainingTarget) -> str | None:
        """The MLflow run id of a run of this model that is still going, if the launcher can see one."""


# --- standalone --------------------------------------------------------------------------------


class _Process:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process, self.where = process, str(log)

    def poll(self) -> bool | None:
        code = self.process.poll()
        return None if code is None else code == 0

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class SubprocessLauncher:
    """`python -m services.cli train ...` as a child process, logging to `<log_dir>/training-...log`.

    With `credentials_dir`, a run signs in to the registry as its tenant (`<dir>/<tenant>.ini`, ADR
    0017), never as the trigger: the trigger's own user may create runs, the tenant's registers versions.
    """

    def __init__(
        self,
        log_dir: Path,
        env: dict[str, str] | None = None,
        python: str = sys.executable,
        credentials_dir: Path | None = None,
    ):
        self.log_dir, self.env, self.python = log_dir, dict(env or {}), python
        self.credentials_dir = credentials_dir

    def _environment(self, target: TrainingTarget, run_id: str, trigger: str) -> dict[str, str]:
        from services.registry.access import tenant_user
        from services.registry.credentials import FILE_ENV, PASSWORD_ENV, USERNAME_ENV, credentials_file

        env = {**os.environ, **self.env, RUN_ID_ENV: run_id, TRIGGER_ENV: trigger}
        if self.credentials_dir is not None:
            for key in (USERNAME_ENV, PASSWORD_ENV):  # the trigger's own sign-in must not leak into the run
                env.pop(key, None)
            env[FILE_ENV] = str(credentials_file(self.credentials_dir, tenant_user(target.tenant)))
        return env

    def launch(self, target: TrainingTarget, run_id: str, trigger: str) -> RunHandle:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"training-{target.model}-{run_id[:8]}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(
                [self.python, "-m", "services.cli", *target.args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._environment(target, run_id, trigger),
                start_new_session=True,  # stoppable as a group, whatever the training code starts
                preexec_fn=die_with_parent if sys.platform == "linux" else None,  # no orphan if the trigger dies
            )
        return _Process(process, log)

    def active(self, target: TrainingTarget) -> str | None:
        return None  # the children are the trigger's own: it already knows which are running


# --- cluster -----------------------------------------------------------------------------------

_SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubernetesJobLauncher:
    """Jobs through the Kubernetes API (plain HTTPS and the pod's service account token)."""

    def __init__(self, api: str, token: str, ca_file: str | None = None):
        self.api = api.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.context = ssl.create_default_context(cafile=ca_file) if api.startswith("https") else None

    @classmethod
    def in_cluster(cls) -> KubernetesJobLauncher:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise LaunchError(
                "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset): use --launcher subprocess"
            )
        token = (_SERVICE_ACCOUNT / "token").read_text().strip()
        return cls(f"https://{host}:{port}", token, str(_SERVICE_ACCOUNT / "ca.crt"))

    def launch(self, target: TrainingTarget, run_id: str, trigger: str) -> RunHandle:
        namespace = target.namespace
        template = self._request("GET", f"/apis/batch/v1/namespaces/{namespace}/cronjobs/{target.job_template}")
        job_template = template["spec"]["jobTemplate"]
        spec = copy.deepcopy(job_template["spec"])
        for container in spec["template"]["spec"]["containers"]:
            env = [e for e in container.get("env", []) if e["name"] not in (RUN_ID_ENV, TRIGGER_ENV)]
            container["env"] = [*env, {"name": RUN_ID_ENV, "value": run_id}, {"name": TRIGGER_ENV, "value": trigger}]
        labels = dict(job_template.get("metadata", {}).get("labels", {}))
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "generateName": f"{target.job_template}-",
                "namespace": namespace,
                "labels": labels,
                "annotations": {RUN_ANNOTATION: run_id, "platform.mlops/trigger": trigger},
            },
            "spec": spec,
        }
        created = self._request("POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
        return _Job(self, namespace, created["metadata"]["name"])

    def active(self, target: TrainingTarget) -> str | None:
        selector = urllib.parse.urlencode(
            {"labelSelector": f"platform.mlops/model={target.model},app.kubernetes.io/component=training"}
        )
        jobs = self._request("GET", f"/apis/batch/v1/namespaces/{target.namespace}/jobs?{selector}")
        for job in jobs.get("items", []):
            if _finished(job) is None:
                return job["metadata"].get("annotations", {}).get(RUN_ANNOTATION, job["metadata"]["name"])
        return None

    def _request(self, method: str, path: str, body: dict | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise LaunchError(f"{method} {path}: the API server answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise LaunchError(f"{method} {path}: the API server is not reachable ({exc})") from None


def _finished(job: dict[str, Any]) -> bool | None:
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return condition["type"] == "Complete"
    return None


class _Job:
    def __init__(self, launcher: KubernetesJobLauncher, namespace: str, name: str):
        self.launcher, self.namespace, self.name = launcher, namespace, name
        self.where = f"Job {namespace}/{name}"
        self._last_check = 0.0
        self._state: bool | None = None

    def poll(self) -> bool | None:
        if self._state is None and time.monotonic() - self._last_check >= 5:  # the API server is not a busy loop
            self._last_check = time.monotonic()
            job = self.launcher._request("GET", f"/apis/batch/v1/namespaces/{self.namespace}/jobs/{self.name}")
            self._state = _finished(job)
        return self._state

    def stop(self) -> None:
        body = {"propagationPolicy": "Background"}
        self.launcher._request("DELETE", f"/apis/batch/v1/namespaces/{self.namespace}/jobs/{self.name}", body)
