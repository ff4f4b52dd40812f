"""Registry durability: backups, restores and the DR drill (ADR 0012, docs/registry-dr.md).

Read in this order: `backup.sh` and `restore.sh` (the commands themselves, run by the cluster's
backup CronJob and restore Job and by everything below) -> `backups.py` (Python callers of the
two scripts) -> `postgres.py` (a throwaway PostgreSQL for the drill and the tests) ->
`snapshot.py` (the registry as data, compared field by field) -> `drill.py` (the DR drill) ->
`cluster.py` (`mlplat registry restore` on a cluster: a Job from the restore template).
For an RPO under 15 minutes: `archive-wal.sh`, `base-backup.sh` and `pitr-restore.sh`, with
`wal.py` holding the server settings that turn archiving on and the Python callers.
"""

from pathlib import Path

__all__ = [
    "BACKUP_SCRIPT",
    "RESTORE_SCRIPT",
    "ARCHIVE_WAL_SCRIPT",
    "BASE_BACKUP_SCRIPT",
    "PITR_RESTORE_SCRIPT",
    "SCRIPTS",
    "SERVER",
    "DATABASE",
    "RESTORE_TEMPLATE",
    "PITR_TEMPLATE",
    "BACKUP_CRONJOB",
    "BASE_BACKUP_CRONJOB",
]

# Object names the ModelRegistry component creates and `mlplat registry restore` acts on.
SERVER = "mlflow"  # the MLflow Deployment
DATABASE = "mlflow-db"  # the PostgreSQL StatefulSet (one pod: mlflow-db-0)
BACKUP_CRONJOB = "mlflow-db-backup"  # backup.sh on the schedule (the backup alert watches it)
BASE_BACKUP_CRONJOB = "mlflow-db-base-backup"  # base-backup.sh (WAL archiving only)
RESTORE_TEMPLATE = "mlflow-db-restore"  # suspended CronJob: the restore Job's template
PITR_TEMPLATE = "mlflow-db-pitr-restore"  # the same for a point-in-time restore (WAL archiving only)

# The single source of the backup and restore commands: the ModelRegistry component mounts these
# files from a ConfigMap, and the drill and the tests run the very same files.
_HERE = Path(__file__).resolve().parent
BACKUP_SCRIPT = _HERE / "backup.sh"
RESTORE_SCRIPT = _HERE / "restore.sh"
ARCHIVE_WAL_SCRIPT = _HERE / "archive-wal.sh"
BASE_BACKUP_SCRIPT = _HERE / "base-backup.sh"
PITR_RESTORE_SCRIPT = _HERE / "pitr-restore.sh"
SCRIPTS = (BACKUP_SCRIPT, RESTORE_SCRIPT, ARCHIVE_WAL_SCRIPT, BASE_BACKUP_SCRIPT, PITR_RESTORE_SCRIPT)
