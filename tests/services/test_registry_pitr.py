"""Point-in-time recovery for an RPO under 15 minutes, on a real PostgreSQL: the server archives WAL
with archive-wal.sh (the settings the cluster's database gets), base-backup.sh takes the base
backup, and pitr-restore.sh brings back changes written AFTER the base backup from the archived
WAL. The scripts are the ones the cluster runs; only the folders differ."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.registry import ARCHIVE_WAL_SCRIPT
from services.registry.backups import RestoreError
from services.registry.postgres import LocalPostgres, find_bin_dir
from services.registry.wal import archive_settings, prepare_point_in_time, take_base_backup

ARCHIVE_TIMEOUT = 2  # seconds here; the cluster uses the blueprint's rpoMinutes


@dataclass
class Recovery:
    rows: list[str]
    running_refusal: RestoreError
    corrupt_refusal: RestoreError
    files_before_corrupt_attempt: list[str]
    files_after_corrupt_attempt: list[str]
    archive_after_second_base: list[str]
    second_base_start: str


def _sql(server: LocalPostgres, query: str) -> str:
    env = {**os.environ, **server.database().libpq_env()}
    done = subprocess.run(
        [str(server.bin_dir / "psql"), "-X", "-At", "-c", query], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _wait(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except subprocess.CalledProcessError:  # the server is still starting or replaying
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def recovery() -> Recovery:
    server = LocalPostgres(find_bin_dir(), Path(tempfile.mkdtemp(prefix="mlplat-pitr-")))
    try:
        backups = server.server_folder("backups")
        server.settings = archive_settings(server.install_script(ARCHIVE_WAL_SCRIPT), backups / "wal", ARCHIVE_TIMEOUT)
        server.init()
        server.start()
        server.create_database()
        as_server = {"run_as": server.run_as, "tools": server.bin_dir}

        _sql(server, "CREATE TABLE decisions (what text); INSERT INTO decisions VALUES ('before the base backup')")
        first = take_base_backup(server.database(), backups, **as_server)
        _sql(server, "INSERT INTO decisions VALUES ('after the base backup')")
        written = _sql(server, "SELECT now()")
        # archive_timeout finishes the segment holding the insert within seconds, even with no more writes
        _wait(
            lambda: _sql(server, f"SELECT last_archived_time > '{written}' FROM pg_stat_archiver") == "t",
            "the WAL holding the insert was not archived",
        )

        with pytest.raises(RestoreError) as running:
            prepare_point_in_time(server.data_dir, backups, force=True, **as_server)

        corrupt = backups / "base-20000101T000000Z"
        shutil.copytree(first.path, corrupt)
        with (corrupt / "base.tar.gz").open("r+b") as handle:
            handle.truncate(1000)
        if server.run_as:  # copied by this (root) process; the script runs as the server's user
            owner = pwd.getpwnam(server.run_as)
            for path in (corrupt, *corrupt.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        server.stop()
        before = sorted(os.listdir(server.data_dir))
        with pytest.raises(RestoreError) as corrupted:
            prepare_point_in_time(server.data_dir, backups, base=corrupt.name, force=True, **as_server)
        after = sorted(os.listdir(server.data_dir))
        shutil.rmtree(corrupt)
        server.start()

        server.destroy()  # the disaster: no clean shutdown, data folder gone
        prepare_point_in_time(server.data_dir, backups, **as_server)
        server.start()
        _wait(lambda: _sql(server, "SELECT pg_is_in_recovery()") == "f", "the server did not finish recovery")
        rows = _sql(server, "SELECT what FROM decisions ORDER BY what DESC").splitlines()

        second = take_base_backup(server.database(), backups, retain=1, **as_server)
        start = re.search(r"archived WAL before (\w{24}) removed", second.output).group(1)
        return Recovery(
            rows,
            running.value,
            corrupted.value,
            before,
            after,
            sorted(os.listdir(backups / "wal")),
            start,
        )
    finally:
        server.close()


def test_changes_written_after_the_base_backup_come_back_from_the_archived_wal(recovery):
    assert recovery.rows == ["before the base backup", "after the base backup"]


def test_a_data_folder_with_a_running_server_is_never_overwritten(recovery):
    assert recovery.running_refusal.code == RestoreError.NOT_EMPTY
    assert "a server is running on this data folder" in str(recovery.running_refusal)


def test_a_corrupt_base_backup_is_refused_and_the_data_folder_is_left_as_it_was(recovery):
    assert recovery.corrupt_refusal.code == RestoreError.BAD_BACKUP
    assert "is corrupt or truncated" in str(recovery.corrupt_refusal)
    assert recovery.files_after_corrupt_attempt == recovery.files_before_corrupt_attempt


def test_wal_no_kept_base_backup_needs_is_pruned_and_history_files_stay(recovery):
    segments = [name[:24] for name in recovery.archive_after_second_base if re.fullmatch(r"[0-9A-F]{24}\.gz", name)]
    assert segments and all(s[8:] >= recovery.second_base_start[8:] for s in segments)
    assert "00000002.history.gz" in recovery.archive_after_second_base  # the timeline the recovery started
    assert all(name.endswith(".gz") for name in recovery.archive_after_second_base)
