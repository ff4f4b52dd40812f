"""`mlplat registry restore` on a cluster: a Job made from the restore template, then MLflow restarted.

The ModelRegistry component deploys `mlflow-db-restore`, a CronJob that never runs on its own
(`suspend: true`). It is the restore Job's template, kept in the cluster beside the backups it
reads, and checked by the infra tests like every other object (schema, secrets, volumes). A restore:
  1. reads the template (`kubectl get cronjob mlflow-db-restore -o json`);
  2. builds the Job: the template's job spec with BACKUP_FILE and RESTORE_FORCE set (`restore_job`, pure);
  3. creates it and waits until it completes or fails;
  4. prints its log: restore.sh says what it verified, restored and kept;
  5. after a restore, restarts the MLflow Deployment, so every server starts on the restored database.
Without mlplat the same template restores the newest backup:
`kubectl create job --from=cronjob/mlflow-db-restore restore-now`.

Commands go through an injected runner, so the tests check each command and decision with a fake one.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.deploy.kind import Runner, subprocess_runner
from services.registry.backups import BACKUP_NAME, RestoreError

__all__ = [
    "RESTORE_TEMPLATE",
    "SERVER_DEPLOYMENT",
    "ClusterRestore",
    "ClusterRestoreError",
    "check_backup_name",
    "restore_job",
]

RESTORE_TEMPLATE = "mlflow-db-restore"
SERVER_DEPLOYMENT = "mlflow"


class ClusterRestoreError(RuntimeError):
    """The restore did not happen; `code` follows restore.sh's exit codes (2 bad backup, 3 not empty)."""

    def __init__(self, message: str, code: int = RestoreError.FAILED):
        super().__init__(message)
        self.code = code


def check_backup_name(name: str) -> None:
    """Only what restore.sh accepts inside the cluster: a backup's file name, "latest" or "list"."""
    if name in ("latest", "list") or BACKUP_NAME.match(name):
        return
    raise ValueError(
        f'{name!r} is not a backup name: use "latest" or a name like mlflow-20250101T021500Z.dump '
        "(see them with `mlplat registry restore --list`)"
    )


def restore_job(template: dict[str, Any], backup: str, *, force: bool, name: str) -> dict[str, Any]:
    """The Job to create: the template's job spec, with the backup to restore and the force flag."""
    spec = copy.deepcopy(template["spec"]["jobTemplate"]["spec"])
    container = spec["template"]["spec"]["containers"][0]
    settings = {"BACKUP_FILE": backup, "RESTORE_FORCE": "1" if force else "0"}
    container["env"] = [e for e in container.get("env", []) if e["name"] not in settings] + [
        {"name": key, "value": value} for key, value in settings.items()
    ]
    meta = template["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels", {})),
            "annotations": {"platform.mlops/restore-from": backup, "platform.mlops/restore-force": str(force).lower()},
        },
        "spec": spec,
    }


@dataclass
class ClusterRestore:
    context: str
    namespace: str
    runner: Runner = subprocess_runner
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    timeout_seconds: float = 900.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def _kubectl(self, *args: str) -> tuple[int, str]:
        return self.runner(["kubectl", "--context", self.context, "-n", self.namespace, *args])

    def _must(self, advice: str, *args: str) -> str:
        code, output = self._kubectl(*args)
        if code != 0:
            raise ClusterRestoreError(f"`kubectl {' '.join(args)}` failed: {output.strip()}\n-> {advice}")
        return output

    def restore(self, backup: str, *, force: bool = False) -> str:
        """Restore `backup` ("latest", a backup name, or "list" to only list them); returns the Job's log."""
        check_backup_name(backup)
        code, output = self._kubectl("get", "cronjob", RESTORE_TEMPLATE, "-o", "json")
        if code != 0:
            raise ClusterRestoreError(
                f"no restore template cronjob/{RESTORE_TEMPLATE} in namespace {self.namespace!r} on context "
                f"{self.context!r} ({output.strip()}): deploy the platform first (`make up`), or pass --namespace "
                "(a tenant with a dedicated registry has its own, in the tenant's namespace)"
            )
        stamp = self.now().strftime("%Y%m%d-%H%M%S")
        name = f"{RESTORE_TEMPLATE}-{'list-' if backup == 'list' else ''}{stamp}"
        job = restore_job(json.loads(output), backup, force=force, name=name)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "job.json"
            path.write_text(json.dumps(job), encoding="utf-8")
            self._must(
                "check your rights in the namespace: `kubectl auth can-i create jobs`", "create", "-f", f"{path}"
            )
        self.log(f"job/{name} created: {'listing backups' if backup == 'list' else f'restoring {backup}'} ...")
        succeeded = self._wait(name)
        _, logs = self._kubectl("logs", f"job/{name}")
        if not succeeded:
            code = self._exit_code(name)
            raise ClusterRestoreError(
                f"job/{name} failed; the registry database was not changed. Its log:\n{logs.strip()}", code
            )
        if backup != "list":
            self.log(f"restarting deployment/{SERVER_DEPLOYMENT} on the restored database ...")
            self._must(
                f"restart it yourself: `kubectl -n {self.namespace} rollout restart deployment/{SERVER_DEPLOYMENT}`",
                "rollout", "restart", f"deployment/{SERVER_DEPLOYMENT}",
            )  # fmt: skip
            self._must(
                f"inspect the pods: `kubectl -n {self.namespace} get pods -l app.kubernetes.io/name=mlflow`",
                "rollout", "status", f"deployment/{SERVER_DEPLOYMENT}", "--timeout=300s",
            )  # fmt: skip
        return logs.strip()

    def _wait(self, name: str) -> bool:
        """True when the Job completed, False when it failed; raises after the timeout."""
        deadline = time.monotonic() + self.timeout_seconds
        while time.monotonic() < deadline:
            _, output = self._kubectl("get", f"job/{name}", "-o", "jsonpath={.status.conditions[*].type}")
            conditions = set(output.split())
            if "Complete" in conditions:
                return True
            if "Failed" in conditions:
                return False
            self.sleep(2.0)
        raise ClusterRestoreError(
            f"job/{name} did not finish within {self.timeout_seconds:.0f}s: "
            f"`kubectl -n {self.namespace} describe job/{name}` shows why (a pending pod, a volume that cannot attach)"
        )

    def _exit_code(self, name: str) -> int:
        """restore.sh's exit code, read from the Job's pod (1 when it cannot be read)."""
        _, output = self._kubectl(
            "get", "pods", "-l", f"job-name={name}", "-o",
            "jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}",
        )  # fmt: skip
        return int(output.strip()) if output.strip().isdigit() else RestoreError.FAILED
