"""Registry durability: backups, restores and the DR drill (ADR 0012, docs/registry-dr.md).

Read in this order: `backup.sh` and `restore.sh` (the commands themselves, run by the cluster's
backup CronJob and restore Job and by everything below) -> `backups.py` (Python callers of the
two scripts) -> `postgres.py` (a throwaway PostgreSQL for the drill and the tests) ->
`snapshot.py` (the registry as data, compared field by field) -> `drill.py` (the DR drill) ->
`cluster.py` (`mlplat registry restore` on a cluster: a Job from the restore template).
"""

from pathlib import Path

__all__ = ["BACKUP_SCRIPT", "RESTORE_SCRIPT"]

# The single source of the backup and restore commands: the ModelRegistry component mounts these
# files from a ConfigMap, and the drill and the tests run the very same files.
BACKUP_SCRIPT = Path(__file__).resolve().with_name("backup.sh")
RESTORE_SCRIPT = Path(__file__).resolve().with_name("restore.sh")
