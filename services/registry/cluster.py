"""`mlplat registry restore` on a cluster: a Job made from a restore template, then MLflow restarted.

The ModelRegistry component deploys `mlflow-db-restore`, a CronJob that never runs on its own
(`suspend: true`). It is the restore Job's template, kept in the cluster beside the backups it
reads, and checked by the infra tests like every other object (schema, secrets, volumes). A restore:
  1. reads the template (`kubectl get cronjob mlflow-db-restore -o json`);
  2. builds the Job: the template's job spec with BACKUP_FILE and RESTORE_FORCE set (`job_from_template`, pure);
  3. creates it and waits until it completes or fails;
  4. prints its log: restore.sh says what it verified, restored and kept;
  5. after a restore, restarts the MLflow Deployment, so every server starts on the restored database.
Without mlplat the same template restores the newest backup:
`kubectl create job --from=cronjob/mlflow-db-restore restore-now`.

With WAL archiving (an RPO under 15 minutes) `point_in_time()` uses the `mlflow-db-pitr-restore`
template instead: MLflow and the database are scaled to 0, the Job prepares the database's volume
from a base backup (pitr-restore.sh), the database starts and replays the archived WAL, and MLflow
comes back once it accepts writes.

Commands go through an injected runner, so the tests check each command and decision with a fake one.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.deploy.commands import Runner, subprocess_runner
from services.registry import DATABASE, PITR_TEMPLATE, RESTORE_TEMPLATE, SERVER
from services.registry.backups import BACKUP_NAME, RestoreError

__all__ = [
    "ClusterRestore",
    "ClusterRestoreError",
    "check_backup_name",
    "check_base_backup_name",
    "recovery_target",
    "job_from_template",
]

_BASE_NAME = re.compile(r"^base-\d{8}T\d{6}Z$")


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


def check_base_backup_name(name: str) -> None:
    if name == "latest" or _BASE_NAME.match(name):
        return
    raise ValueError(f'{name!r} is not a base backup name: use "latest" or a name like base-20250101T020000Z')


def recovery_target(text: str) -> str:
    """An ISO 8601 time with its UTC offset, as PostgreSQL's recovery_target_time reads it."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-01-02T03:04:05Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: add one (e.g. {text}Z for UTC), so no clock zone is guessed")
    return moment.isoformat(sep=" ")


def job_from_template(template: dict[str, Any], settings: dict[str, str], *, name: str) -> dict[str, Any]:
    """The Job to create: the template's job spec, with `settings` replacing its container's env values."""
    spec = copy.deepcopy(template["spec"]["jobTemplate"]["spec"])
    container = spec["template"]["spec"]["containers"][0]
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
            "annotations": {"platform.mlops/restore": " ".join(f"{k}={v}" for k, v in settings.items())},
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

    def _template(self, template: str, missing: str) -> dict[str, Any]:
        code, output = self._kubectl("get", "cronjob", template, "-o", "json")
        if code != 0:
            raise ClusterRestoreError(
                f"no restore template cronjob/{template} in namespace {self.namespace!r} on context "
                f"{self.context!r} ({output.strip()}): {missing}"
            )
        return json.loads(output)

    def _run_job(self, template: dict[str, Any], settings: dict[str, str], name: str, what: str) -> str:
        """Create the Job, wait for it, return its log; raise with the script's exit code if it failed."""
        job = job_from_template(template, settings, name=name)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "job.json"
            path.write_text(json.dumps(job), encoding="utf-8")
            self._must(
                "check your rights in the namespace: `kubectl auth can-i create jobs`", "create", "-f", f"{path}"
            )
        self.log(f"job/{name} created: {what} ...")
        succeeded = self._wait(name)
        _, logs = self._kubectl("logs", f"job/{name}")
        if not succeeded:
            raise ClusterRestoreError(
                f"job/{name} failed; the registry database was not changed. Its log:\n{logs.strip()}",
                self._exit_code(name),
            )
        return logs.strip()

    def restore(self, backup: str, *, force: bool = False) -> str:
        """Restore `backup` ("latest", a backup name, or "list" to only list them); returns the Job's log."""
        check_backup_name(backup)
        template = self._template(
            RESTORE_TEMPLATE,
            "deploy the platform first (`make up`), or pass --namespace (a tenant with a dedicated registry "
            "has its own, in the tenant's namespace)",
        )
        stamp = self.now().strftime("%Y%m%d-%H%M%S")
        name = f"{RESTORE_TEMPLATE}-{'list-' if backup == 'list' else ''}{stamp}"
        settings = {"BACKUP_FILE": backup, "RESTORE_FORCE": "1" if force else "0"}
        logs = self._run_job(template, settings, name, "listing backups" if backup == "list" else f"restoring {backup}")
        if backup != "list":
            self.log(f"restarting deployment/{SERVER} on the restored database ...")
            self._must(
                f"restart it yourself: `kubectl -n {self.namespace} rollout restart deployment/{SERVER}`",
                *("rollout", "restart", f"deployment/{SERVER}"),
            )
            self._must(
                f"inspect the pods: `kubectl -n {self.namespace} get pods -l app.kubernetes.io/name=mlflow`",
                *("rollout", "status", f"deployment/{SERVER}", "--timeout=300s"),
            )
        return logs

    def point_in_time(self, base: str = "latest", *, target_time: str | None = None, force: bool = False) -> str:
        """Restore base backup `base` and replay the archived WAL (up to `target_time`, else all of it)."""
        check_base_backup_name(base)
        target = recovery_target(target_time) if target_time else ""
        template = self._template(
            PITR_TEMPLATE,
            "point-in-time restore needs WAL archiving: set platform.registry.backup.rpoMinutes below 15 in the "
            "blueprint and deploy; without it, restore a dump with --from",
        )
        replicas = self._must(
            "is the platform deployed?", "get", f"deployment/{SERVER}", "-o", "jsonpath={.spec.replicas}"
        ).strip()
        self.log(f"scaling deployment/{SERVER} and statefulset/{DATABASE} to 0 ...")
        self._scale("deployment", SERVER, "0")
        self._scale("statefulset", DATABASE, "0")
        self._must(
            f"the database pod did not stop: `kubectl -n {self.namespace} describe pod {DATABASE}-0`",
            *("wait", "--for=delete", f"pod/{DATABASE}-0", "--timeout=300s"),
        )
        settings = {"BASE_BACKUP": base, "RECOVERY_TARGET_TIME": target, "RESTORE_FORCE": "1" if force else "0"}
        name = f"{PITR_TEMPLATE}-{self.now().strftime('%Y%m%d-%H%M%S')}"
        try:
            logs = self._run_job(template, settings, name, f"preparing the database volume from {base}")
        except ClusterRestoreError:
            # The data folder is untouched: bring the database and MLflow back as they were.
            self._scale("statefulset", DATABASE, "1")
            self._scale("deployment", SERVER, replicas or "1")
            raise
        self._scale("statefulset", DATABASE, "1")
        self.log(f"statefulset/{DATABASE} started: replaying the archived WAL ...")
        self._wait_promoted()
        self._scale("deployment", SERVER, replicas or "1")
        self._must(
            f"inspect the pods: `kubectl -n {self.namespace} get pods`",
            *("rollout", "status", f"deployment/{SERVER}", "--timeout=300s"),
        )
        return logs

    def _scale(self, kind: str, name: str, replicas: str) -> None:
        self._must(
            f"scale it by hand: `kubectl -n {self.namespace} scale {kind}/{name} --replicas={replicas}`",
            *("scale", f"{kind}/{name}", f"--replicas={replicas}"),
        )

    def _wait_promoted(self) -> None:
        """Until the database has replayed the WAL and accepts writes (MLflow needs them at start-up)."""
        deadline = time.monotonic() + self.timeout_seconds
        while time.monotonic() < deadline:
            code, output = self._kubectl(
                *("exec", f"{DATABASE}-0", "--"),
                *("psql", "-U", "mlflow", "-d", "mlflow", "-Atc"),
                "SELECT pg_is_in_recovery()",
            )
            if code == 0 and output.strip() == "f":
                return
            self.sleep(2.0)
        raise ClusterRestoreError(
            f"{DATABASE}-0 did not finish replaying the WAL within {self.timeout_seconds:.0f}s: "
            f"`kubectl -n {self.namespace} logs {DATABASE}-0` shows where it is"
        )

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
            *("get", "pods", "-l", f"job-name={name}"),
            *("-o", "jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}"),
        )
        return int(output.strip()) if output.strip().isdigit() else RestoreError.FAILED
