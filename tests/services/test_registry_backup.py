"""backup.sh and restore.sh against a real PostgreSQL holding a real MLflow schema: what a backup is,
what retention keeps, and that every bad backup or unsafe restore is refused with the database untouched.

The server is a throwaway one (services/registry/postgres.py): initdb in a temporary folder, a free
loopback port, stopped and deleted when the module ends. Without PostgreSQL installed these tests
fail with the install command; they are never skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from services.cli import main
from services.registry.backups import BACKUP_NAME, Database, RestoreError, restore_backup, take_backup
from services.registry.postgres import PostgresNotInstalled, find_bin_dir, free_port, throwaway_postgres
from services.registry.snapshot import capture, compare


@pytest.fixture(scope="module")
def postgres():
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def tools(postgres) -> Path:
    return postgres.bin_dir


@pytest.fixture(scope="module")
def registry(postgres):
    """An MLflow registry on the database, driven in-process through MLflow's SQL store (no server needed)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=postgres.database().url, registry_uri=postgres.database().url)
    for name in ("fraud-scorer", "churn"):
        client.create_registered_model(name, tags={"team": name}, description=f"{name} model")
        for _ in range(2):
            client.create_model_version(name, source=f"mlflow-artifacts:/{name}", tags={"owner": "ana"})
        client.set_registered_model_alias(name, "champion", "1")
    return client


def sql(database: Database, query: str, tools: Path, db: str | None = None) -> str:
    env = {**os.environ, **database.libpq_env(), "PGDATABASE": db or database.name}
    done = subprocess.run(
        [str(tools / "psql"), "-X", "-At", "-c", query], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def databases(postgres, tools) -> set[str]:
    return set(sql(postgres.database(), "SELECT datname FROM pg_database", tools, "postgres").split())


@pytest.fixture
def backup(postgres, registry, tools, tmp_path):
    return take_backup(postgres.database(), tmp_path / "backups", retain=5, tools=tools)


def test_a_backup_is_a_dump_pg_restore_can_list_and_a_checksum_written_with_it(backup, tools):
    assert BACKUP_NAME.match(backup.path.name)
    recorded = (backup.path.parent / f"{backup.path.name}.sha256").read_text()
    assert recorded == f"{hashlib.sha256(backup.path.read_bytes()).hexdigest()}  {backup.path.name}\n"
    assert backup.sha256 == recorded.split()[0] and backup.size == backup.path.stat().st_size
    listing = subprocess.run([str(tools / "pg_restore"), "--list", str(backup.path)], capture_output=True, text=True)
    assert "TABLE public registered_models" in listing.stdout
    assert not list(backup.path.parent.glob("*.partial"))


def test_retention_keeps_the_newest_backups_by_name_and_prunes_their_checksums(postgres, registry, tools, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [f"mlflow-2020010{day}T000000Z.dump" for day in (1, 2, 3)]
    for name in old:
        (folder / name).write_bytes(b"old")
        (folder / f"{name}.sha256").write_text("x\n")
    (folder / "notes.txt").write_text("not a backup: never pruned")
    new = take_backup(postgres.database(), folder, retain=2, tools=tools)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [new.path.name, f"{new.path.name}.sha256", old[2], f"{old[2]}.sha256", "notes.txt"]
    )
    assert f"pruned: {old[0]}" in new.output and f"pruned: {old[1]}" in new.output


def test_restore_onto_a_non_empty_database_refuses_without_force_and_changes_nothing(postgres, registry, backup, tools):
    before = capture(registry)
    with pytest.raises(RestoreError) as refused:
        restore_backup(postgres.database(), backup.path, tools=tools)
    assert refused.value.code == RestoreError.NOT_EMPTY
    assert re.search(
        r"database mlflow on 127\.0\.0\.1:\d+ is not empty \(\d+ tables, 2 registered models\)", str(refused.value)
    )
    assert "--force" in str(refused.value)
    assert compare(before, capture(registry)).equal


def _assert_refused_untouched(postgres, registry, tools, backup_path: Path, code: int, message: str) -> None:
    before, dbs = capture(registry), databases(postgres, tools)
    with pytest.raises(RestoreError) as refused:
        restore_backup(postgres.database(), backup_path, force=True, tools=tools)
    assert refused.value.code == code
    assert message in str(refused.value)
    assert "was not touched" in str(refused.value)
    assert compare(before, capture(registry)).equal
    assert databases(postgres, tools) == dbs  # no half-restored database left behind either


def test_a_truncated_backup_is_refused_before_the_database_is_touched(postgres, registry, backup, tools):
    data = backup.path.read_bytes()
    backup.path.write_bytes(data[: len(data) // 2])
    _assert_refused_untouched(
        postgres, registry, tools, backup.path, RestoreError.BAD_BACKUP, "is corrupt or truncated"
    )


def test_a_corrupted_backup_of_the_same_size_is_refused(postgres, registry, backup, tools):
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: pg_restore --list alone would not notice
    backup.path.write_bytes(bytes(data))
    _assert_refused_untouched(
        postgres, registry, tools, backup.path, RestoreError.BAD_BACKUP, "is corrupt or truncated"
    )


def test_a_file_that_is_not_a_dump_is_refused_even_with_a_matching_checksum(postgres, registry, tools, tmp_path):
    fake = tmp_path / "mlflow-20240101T000000Z.dump"
    fake.write_text("SELECT 'a plain SQL file, not a custom-format archive';\n")
    Path(f"{fake}.sha256").write_text(f"{hashlib.sha256(fake.read_bytes()).hexdigest()}  {fake.name}\n")
    _assert_refused_untouched(
        postgres, registry, tools, fake, RestoreError.BAD_BACKUP, "is not a pg_dump custom-format archive"
    )


def test_a_backup_without_its_checksum_file_is_incomplete_and_refused(postgres, registry, backup, tools):
    Path(f"{backup.path}.sha256").unlink()
    _assert_refused_untouched(postgres, registry, tools, backup.path, RestoreError.BAD_BACKUP, "has no checksum file")


def test_an_unknown_backup_is_refused_naming_the_backups_that_exist(postgres, registry, backup, tools):
    with pytest.raises(RestoreError) as refused:
        restore_backup(postgres.database(), "mlflow-19990101T000000Z.dump", backup_dir=backup.path.parent, tools=tools)
    assert refused.value.code == RestoreError.BAD_BACKUP
    assert "no backup" in str(refused.value) and backup.path.name in str(refused.value)


def test_a_failing_pg_restore_leaves_the_database_untouched(postgres, registry, tools, tmp_path):
    # A real, verifiable dump whose restore fails: its table lives in a tablespace the target lacks.
    location = postgres.server_folder("tablespace")
    database = postgres.database()
    scratch = "scratch"
    sql(database, f"CREATE DATABASE {scratch}", tools, "postgres")
    sql(database, f"CREATE TABLESPACE elsewhere LOCATION '{location}'", tools, "postgres")
    sql(database, "CREATE TABLE t (x int) TABLESPACE elsewhere", tools, scratch)
    dump = take_backup(
        Database(database.host, database.port, database.user, database.password, scratch), tmp_path, tools=tools
    )
    sql(database, f"DROP DATABASE {scratch}", tools, "postgres")
    sql(database, "DROP TABLESPACE elsewhere", tools, "postgres")
    _assert_refused_untouched(postgres, registry, tools, dump.path, RestoreError.FAILED, "pg_restore of")


def test_a_database_that_does_not_answer_is_reported_with_its_address(postgres, backup, tools, monkeypatch):
    monkeypatch.setenv("RESTORE_WAIT_SECONDS", "0")
    nowhere = dataclasses.replace(postgres.database(), port=free_port())
    with pytest.raises(RestoreError) as failed:
        restore_backup(nowhere, backup.path, tools=tools)
    assert failed.value.code == RestoreError.FAILED
    assert f"PostgreSQL at 127.0.0.1:{nowhere.port} does not accept connections" in str(failed.value)


def test_restore_with_force_replaces_the_database_and_keeps_the_previous_one(postgres, registry, backup, tools):
    at_backup = capture(registry)
    registry.create_registered_model("written-after-the-backup")
    done = restore_backup(postgres.database(), backup.path, force=True, tools=tools)
    assert compare(at_backup, capture(registry)).equal  # the client's pool reconnects to the swapped-in database
    kept = re.search(r"kept as (mlflow_pre_restore_\d{14})", done.output).group(1)
    assert (
        sql(postgres.database(), f"SELECT datallowconn FROM pg_database WHERE datname = '{kept}'", tools, "postgres")
        == "f"
    )
    sql(postgres.database(), f'ALTER DATABASE "{kept}" WITH ALLOW_CONNECTIONS true', tools, "postgres")
    names = sql(postgres.database(), "SELECT name FROM registered_models ORDER BY name", tools, kept).split()
    assert "written-after-the-backup" in names  # the replaced data is still there, to undo a wrong restore
    sql(postgres.database(), f'DROP DATABASE "{kept}"', tools, "postgres")


def test_restore_creates_a_database_that_does_not_exist(postgres, backup, tools):
    fresh = dataclasses.replace(postgres.database(), name="brand_new")
    restore_backup(fresh, backup.path, tools=tools)
    assert sql(fresh, "SELECT count(*) FROM registered_models", tools) == "2"
    sql(fresh, "DROP DATABASE brand_new", tools, "postgres")


def test_cli_restore_errors_are_one_line_without_a_traceback(postgres, backup, capsys):
    url = postgres.database().url
    assert (
        main(["registry", "restore", "--from", str(backup.path.with_name("missing.dump")), "--database-url", url]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("mlplat: no backup ") and "Traceback" not in err
    assert main(["registry", "restore", "--from", str(backup.path), "--database-url", "mysql://x"]) == 2
    assert "is not a postgresql:// URL" in capsys.readouterr().err
    assert main(["registry", "restore", "--from", "latest", "--database-url", url]) == 2
    assert "give the backup's path, or the folder that holds it with --backup-dir" in capsys.readouterr().err
    assert main(["registry", "restore", "--from", str(backup.path), "--database-url", url]) == 3
    assert "re-run with --force" in capsys.readouterr().err


def test_cli_restore_without_from_or_list_is_a_usage_error(capsys):
    assert main(["registry", "restore", "--database-url", "postgresql://u@h/db"]) == 2
    assert (
        capsys.readouterr().err
        == 'mlplat: give --from BACKUP (a backup name, or "latest"), or --list to see the backups\n'
    )
    with pytest.raises(SystemExit) as exited:
        main(["registry", "restore", "--from", "latest", "--list"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_without_postgresql_installed_the_message_says_how_to_install_it(tmp_path):
    with pytest.raises(PostgresNotInstalled, match=r"apt-get install postgresql-15"):
        find_bin_dir(search=[str(tmp_path / "*" / "bin")], path=str(tmp_path))


def test_the_database_url_parser_names_what_is_missing():
    assert Database.from_url("postgresql://mlflow:p%40ss@db:5433/mlflow") == Database("db", 5433, "mlflow", "p@ss")
    with pytest.raises(ValueError, match="names no database"):
        Database.from_url("postgresql://mlflow:secret@db:5432")
    with pytest.raises(ValueError) as error:
        Database.from_url("postgres://mlflow:secret@db:port/x")
    assert "secret" not in str(error.value)  # passwords never end up in messages
