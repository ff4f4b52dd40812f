"""The registry's backup CronJob, triggered by hand, writes a dump that restores.

The backup runs as a Job made from the CronJob (`kubectl create job --from`), exactly as its schedule
would run it. The restore runs the platform's own restore template (the Job `mlplat registry restore`
makes) with one change: it restores into a throwaway database instead of replacing the registry's, so the
running registry is never touched. The restored copy must hold the same registered models and versions.
"""

from __future__ import annotations

import json
import re
import time

from blueprints.naming import SYSTEM_NAMESPACE
from services.registry import BACKUP_CRONJOB, RESTORE_TEMPLATE
from tests.cluster.conftest import wait_for

THROWAWAY = "mlflow_restore_check"
COUNTS = "SELECT (SELECT count(*) FROM registered_models) || ' ' || (SELECT count(*) FROM model_versions)"


def run_job(cluster, name: str, spec: dict) -> str:
    """Create a Job, wait for it to finish; its log, when it succeeded."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": SYSTEM_NAMESPACE},
        "spec": {**spec, "backoffLimit": 0},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(job))

    def finished():
        status = cluster.get("-n", SYSTEM_NAMESPACE, "job", name).get("status", {})
        return "succeeded" if status.get("succeeded") else "failed" if status.get("failed") else None

    outcome = wait_for(finished, 300, f"job {SYSTEM_NAMESPACE}/{name}")
    log = cluster.kubectl("-n", SYSTEM_NAMESPACE, "logs", f"job/{name}", check=False)
    assert outcome == "succeeded", f"job {name} failed:\n{log}"
    return log


def psql(cluster, database: str, sql: str) -> str:
    """A query as the database's owner, inside the database's own pod."""
    script = f'PGPASSWORD="$POSTGRES_PASSWORD" psql -X -At -h 127.0.0.1 -U "$POSTGRES_USER" -d {database} -c "{sql}"'
    return cluster.kubectl("-n", SYSTEM_NAMESPACE, "exec", "mlflow-db-0", "--", "sh", "-c", script).strip()


def test_a_backup_triggered_by_hand_restores_into_a_fresh_database_with_every_model(cluster, served_model):
    stamp = int(time.time())
    backup_log = cluster.kubectl(
        "-n", SYSTEM_NAMESPACE, "create", "job", f"--from=cronjob/{BACKUP_CRONJOB}", f"{BACKUP_CRONJOB}-check-{stamp}"
    )
    assert "created" in backup_log
    backup_job = f"{BACKUP_CRONJOB}-check-{stamp}"
    wait_for(
        lambda: cluster.get("-n", SYSTEM_NAMESPACE, "job", backup_job).get("status", {}).get("succeeded"),
        300,
        f"the backup job {backup_job}",
    )
    written = cluster.kubectl("-n", SYSTEM_NAMESPACE, "logs", f"job/{backup_job}")
    match = re.search(r"backup written: /\S+/(mlflow-\d{8}T\d{6}Z\.dump) \((\d+) bytes", written)
    assert match, written
    dump, size = match.group(1), int(match.group(2))
    assert size > 1000, f"a {size}-byte dump cannot hold a registry"
    original = psql(cluster, '"$POSTGRES_DB"', COUNTS)

    template = cluster.get("-n", SYSTEM_NAMESPACE, "cronjob", RESTORE_TEMPLATE)["spec"]["jobTemplate"]["spec"]
    container = template["template"]["spec"]["containers"][0]
    overrides = {"PGDATABASE": THROWAWAY, "BACKUP_FILE": dump, "RESTORE_FORCE": "0"}
    container["env"] = [e for e in container["env"] if e["name"] not in overrides] + [
        {"name": k, "value": v} for k, v in overrides.items()
    ]
    psql(cluster, "postgres", f"DROP DATABASE IF EXISTS {THROWAWAY}")
    try:
        restored_log = run_job(cluster, f"{RESTORE_TEMPLATE}-check-{stamp}", template)
        assert f"verified /backups/{dump}: checksum matches" in restored_log, restored_log
        assert psql(cluster, THROWAWAY, COUNTS) == original, restored_log
        assert original.split()[0] != "0", "the registry holds no model: the check would prove nothing"
    finally:
        psql(cluster, "postgres", f"DROP DATABASE IF EXISTS {THROWAWAY}")
        for job in (backup_job, f"{RESTORE_TEMPLATE}-check-{stamp}"):
            cluster.kubectl(
                "-n", SYSTEM_NAMESPACE, "delete", "job", job, "--ignore-not-found", "--wait=false", check=False
            )
