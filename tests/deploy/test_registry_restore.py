"""`mlplat registry restore` on a cluster, driven by a fake kubectl: the Job comes from the rendered
restore template, waits for its outcome, reports restore.sh's refusal with its exit code, and
restarts MLflow only after a successful restore. (restore.sh itself runs for real against
PostgreSQL in tests/services/test_registry_backup.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.cli import main
from services.registry.cluster import ClusterRestore, ClusterRestoreError
from tests.infra.conftest import find, rendered, rendered_with_wal_archiving

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeKubectl:
    """Answers kubectl commands from a script of (substring of the command, exit code, output)."""

    def __init__(self, template: dict | None, job_conditions: list[str], exit_code: str = "0", logs: str = "done"):
        self.template, self.conditions, self.exit_code, self.logs = template, list(job_conditions), exit_code, logs
        self.commands: list[list[str]] = []
        self.created: dict | None = None

    def __call__(self, command):
        command = list(command)
        self.commands.append(command)
        verb = command[5:]
        if verb[:2] == ["get", "cronjob"]:
            return (0, json.dumps(self.template)) if self.template else (1, 'cronjobs "mlflow-db-restore" not found')
        if verb[:2] == ["create", "-f"]:
            with open(verb[2], encoding="utf-8") as handle:
                self.created = json.load(handle)
            return 0, "job created"
        if verb[0] == "get" and verb[1].startswith("job/"):
            return 0, self.conditions.pop(0) if self.conditions else ""
        if verb[:2] == ["get", "pods"]:
            return 0, self.exit_code
        if verb[0] == "logs":
            return 0, self.logs
        return 0, ""


def template() -> dict:
    return find(rendered("enterprise").manifests, "CronJob", "mlflow-db-restore", "mlops-system")


def restore(kubectl: FakeKubectl) -> ClusterRestore:
    return ClusterRestore(
        "kind-mlops", "mlops-system", runner=kubectl, sleep=lambda _: None, log=lambda _: None, now=lambda: NOW
    )


def test_a_restore_creates_a_job_from_the_template_waits_and_restarts_mlflow():
    kubectl = FakeKubectl(template(), ["", "", "Complete"], logs="restore complete: mlflow now holds ...")
    assert restore(kubectl).restore("mlflow-20260101T000000Z.dump") == "restore complete: mlflow now holds ..."
    assert kubectl.created["metadata"]["name"] == "mlflow-db-restore-20260102-030405"
    env = {e["name"]: e.get("value") for e in kubectl.created["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BACKUP_FILE"] == "mlflow-20260101T000000Z.dump" and env["RESTORE_FORCE"] == "0"
    assert all(c[:5] == ["kubectl", "--context", "kind-mlops", "-n", "mlops-system"] for c in kubectl.commands)
    assert [c[5:8] for c in kubectl.commands[-2:]] == [
        ["rollout", "restart", "deployment/mlflow"],
        ["rollout", "status", "deployment/mlflow"],
    ]


def test_a_refused_restore_reports_restore_sh_and_its_exit_code_and_restarts_nothing():
    kubectl = FakeKubectl(template(), ["Failed"], exit_code="3", logs="restore: database mlflow ... is not empty")
    with pytest.raises(ClusterRestoreError) as failed:
        restore(kubectl).restore("latest")
    assert failed.value.code == 3
    assert "the registry database was not changed" in str(failed.value) and "is not empty" in str(failed.value)
    assert not any("rollout" in c for c in kubectl.commands)


def test_force_is_passed_to_the_job():
    kubectl = FakeKubectl(template(), ["Complete"])
    restore(kubectl).restore("latest", force=True)
    env = {e["name"]: e.get("value") for e in kubectl.created["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RESTORE_FORCE"] == "1"


def test_listing_backups_runs_the_same_job_and_restarts_nothing():
    kubectl = FakeKubectl(template(), ["Complete"], logs="backups in /backups (newest first): ...")
    assert restore(kubectl).restore("list").startswith("backups in /backups")
    assert kubectl.created["metadata"]["name"].startswith("mlflow-db-restore-list-")
    assert not any("rollout" in c for c in kubectl.commands)


def test_a_cluster_without_the_template_is_told_what_to_deploy():
    with pytest.raises(ClusterRestoreError, match=r"no restore template cronjob/mlflow-db-restore .*make up"):
        restore(FakeKubectl(None, [])).restore("latest")


@pytest.mark.parametrize("bad", ["../etc/passwd", "/backups/mlflow-20260101T000000Z.dump", "mlflow.dump"])
def test_the_cli_refuses_anything_but_a_backup_name_before_touching_the_cluster(bad, capsys):
    assert main(["registry", "restore", "--from", bad, "--context", "kind-nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlplat: --from {bad}: {bad!r} is not a backup name") and "Traceback" not in err


class FakePitrKubectl(FakeKubectl):
    """Also answers the scale, wait-for-delete and recovery checks of a point-in-time restore."""

    def __init__(self, template, job_conditions, recovery=("t", "t", "f"), **kwargs):
        super().__init__(template, job_conditions, **kwargs)
        self.recovery = list(recovery)

    def __call__(self, command):
        verb = list(command)[5:]
        if verb[:2] == ["get", "deployment/mlflow"]:
            self.commands.append(list(command))
            return 0, "2"
        if verb[:1] == ["exec"]:
            self.commands.append(list(command))
            return 0, self.recovery.pop(0)
        return super().__call__(command)


def pitr_template() -> dict:
    return find(rendered_with_wal_archiving().manifests, "CronJob", "mlflow-db-pitr-restore", "mlops-system")


def _scales(kubectl) -> list[str]:
    return [f"{c[6]} {c[7]}" for c in kubectl.commands if c[5] == "scale"]


def test_a_point_in_time_restore_stops_mlflow_and_the_database_then_brings_them_back_after_the_replay():
    kubectl = FakePitrKubectl(pitr_template(), ["Complete"])
    restore(kubectl).point_in_time("base-20260101T020000Z", target_time="2026-01-01T10:00:00Z")
    assert _scales(kubectl) == [
        "deployment/mlflow --replicas=0",
        "statefulset/mlflow-db --replicas=0",
        "statefulset/mlflow-db --replicas=1",
        "deployment/mlflow --replicas=2",  # back to what it was, only once the database accepts writes
    ]
    env = {e["name"]: e.get("value") for e in kubectl.created["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BASE_BACKUP"] == "base-20260101T020000Z"
    assert env["RECOVERY_TARGET_TIME"] == "2026-01-01 10:00:00+00:00"
    assert kubectl.recovery == []  # it waited until pg_is_in_recovery() said f


def test_a_failed_point_in_time_restore_brings_the_untouched_database_and_mlflow_back():
    kubectl = FakePitrKubectl(pitr_template(), ["Failed"], exit_code="2", logs="pitr-restore: ... is corrupt")
    with pytest.raises(ClusterRestoreError) as failed:
        restore(kubectl).point_in_time("latest")
    assert failed.value.code == 2
    assert _scales(kubectl)[-2:] == ["statefulset/mlflow-db --replicas=1", "deployment/mlflow --replicas=2"]


def test_point_in_time_without_wal_archiving_says_what_to_change():
    with pytest.raises(
        ClusterRestoreError, match=r"needs WAL archiving: set platform.registry.backup.rpoMinutes below 15"
    ):
        restore(FakePitrKubectl(None, [])).point_in_time("latest")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--point-in-time", "--target-time", "yesterday"], "'yesterday' is not an ISO 8601 time"),
        (["--point-in-time", "--target-time", "2026-01-01T10:00:00"], "has no UTC offset"),
        (["--point-in-time", "--from", "mlflow-20260101T000000Z.dump"], "is not a base backup name"),
        (["--from", "latest", "--target-time", "2026-01-01T10:00:00Z"], "--target-time applies to --point-in-time"),
    ],
)
def test_the_cli_checks_point_in_time_arguments_before_touching_the_cluster(argv, message, capsys):
    assert main(["registry", "restore", *argv, "--context", "kind-nowhere"]) == 2
    assert message in capsys.readouterr().err
