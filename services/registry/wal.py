"""WAL archiving and point-in-time recovery: the choice for an RPO under 15 minutes (ADR 0012).

`archive_settings()` is the one place the server settings are written: the ModelRegistry
component passes them to the PostgreSQL container as `-c` flags, the tests write them into a
throwaway server's postgresql.conf. With them, PostgreSQL hands every finished WAL segment to
archive-wal.sh, and `archive_timeout` finishes a segment at least every RPO, so committed changes
reach the archive within the RPO even when the database is quiet.

`take_base_backup()` and `prepare_point_in_time()` run base-backup.sh and pitr-restore.sh, the
scripts the base-backup CronJob and the point-in-time restore Job run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from services.registry import BASE_BACKUP_SCRIPT, PITR_RESTORE_SCRIPT
from services.registry.backups import BackupError, Database, RestoreError
from services.registry.scripts import run_script

__all__ = ["archive_settings", "take_base_backup", "prepare_point_in_time", "BaseBackup", "WAL_SUBDIR"]

WAL_SUBDIR = "wal"  # the archive lives on the backup volume, next to the base backups that need it
_WRITTEN = re.compile(r"^base backup written: (?P<path>\S+)", re.M)


def archive_settings(script: str | Path, archive: str | Path, timeout_seconds: int) -> dict[str, str]:
    """Server settings that archive every WAL segment with `script` into `archive` at least every
    `timeout_seconds` (PostgreSQL's `archive_timeout`)."""
    return {
        "wal_level": "replica",  # the default; written down because archiving needs it
        "archive_mode": "on",
        "archive_timeout": f"{timeout_seconds}s",
        "archive_command": f'/bin/sh "{script}" "%p" "%f" "{archive}"',
    }


@dataclass(frozen=True)
class BaseBackup:
    path: Path
    output: str


def take_base_backup(
    database: Database,
    backup_dir: Path,
    *,
    retain: int = 2,
    wal_dir: Path | None = None,
    run_as: str | None = None,
    tools: Path | None = None,
) -> BaseBackup:
    """Run base-backup.sh exactly as the base-backup CronJob does."""
    env = {**database.libpq_env(), "BACKUP_DIR": str(backup_dir), "BASE_BACKUP_RETAIN": str(retain)}
    if wal_dir is not None:
        env["WAL_DIR"] = str(wal_dir)
    done = run_script(BASE_BACKUP_SCRIPT, env, run_as=run_as, tools=tools)
    match = _WRITTEN.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise BackupError(f"base-backup.sh exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return BaseBackup(Path(match["path"]), done.stdout)


def prepare_point_in_time(
    data_dir: Path,
    backup_dir: Path,
    *,
    base: str = "latest",
    wal_dir: Path | None = None,
    target_time: str | None = None,
    force: bool = False,
    run_as: str | None = None,
    tools: Path | None = None,
) -> str:
    """Run pitr-restore.sh exactly as the point-in-time restore Job does, as the server's user."""
    env = {
        "PGDATA": str(data_dir),
        "BACKUP_DIR": str(backup_dir),
        "BASE_BACKUP": base,
        "RESTORE_FORCE": "1" if force else "0",
        "RECOVERY_TARGET_TIME": target_time or "",
    }
    if wal_dir is not None:
        env["WAL_DIR"] = str(wal_dir)
    done = run_script(PITR_RESTORE_SCRIPT, env, run_as=run_as, tools=tools)
    if done.returncode != 0:
        lines = [
            line.removeprefix("pitr-restore: ")
            for line in done.stderr.splitlines()
            if line.startswith("pitr-restore: ")
        ]
        raise RestoreError("\n".join(lines) or done.stderr.strip(), done.returncode)
    return done.stdout
