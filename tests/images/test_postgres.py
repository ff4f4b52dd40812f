"""The PostgreSQL image (Debian's packages) keeps the official image's interface as UID 70 on a read-only root."""

from __future__ import annotations

import subprocess

import pytest

from infra import images as pins
from tests.images.conftest import handed_over, pod_volumes, volume
from tests.infra.conftest import find, rendered, rendered_with_wal_archiving

UID = pins.POSTGRES_UID
SCRATCH = ("/var/run/postgresql", "/tmp")  # the StatefulSet's emptyDirs
ENV = {"POSTGRES_USER": "mlflow", "POSTGRES_PASSWORD": "s3cret", "POSTGRES_DB": "mlflow"}
PGDATA = "/var/lib/postgresql/data/pgdata"  # as the StatefulSet sets it: a folder inside the volume
READY = "database system is ready to accept connections"
INITIALISED = "initialisation complete: starting the server"


@pytest.fixture
def database(image, run_as_pod, tmp_path):
    """A database started from empty, with one .sql and one (sourced) .sh initialisation script."""
    initdb = handed_over(
        tmp_path / "initdb",
        {
            "01-schema.sql": "CREATE TABLE models (name text PRIMARY KEY);\n",
            "02-seed.sh": 'psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" '
            "-c \"INSERT INTO models VALUES ('iris')\"\n",
        },
    )
    container = run_as_pod(
        image("postgres"),
        UID,
        env={**ENV, "PGDATA": PGDATA},
        volumes=[
            (volume(tmp_path / "data"), "/var/lib/postgresql/data", False),
            (initdb, "/docker-entrypoint-initdb.d", True),
        ],
        scratch=SCRATCH,
    )
    logs = container.wait_log(INITIALISED, timeout=120)
    container.wait_log(READY, timeout=60)
    return container, logs


def test_an_empty_volume_is_initialised_from_the_environment_and_the_init_scripts_run(database):
    container, logs = database
    assert "running /docker-entrypoint-initdb.d/01-schema.sql" in logs
    assert "sourcing /docker-entrypoint-initdb.d/02-seed.sh" in logs
    probe = find(rendered("foundation").manifests, "StatefulSet", "mlflow-db")
    command = probe["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
    assert container.exec(*command).returncode == 0, "the StatefulSet's readiness probe fails"
    query = container.exec(
        "psql", "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow", "-tAc", "SELECT name FROM models"
    )
    assert query.stdout.strip() == "iris", query.stderr


def test_connections_from_other_hosts_need_the_password(database, image, run_as_pod):
    """As in the official image, pg_hba trusts the container's own loopback and asks everyone else for
    the password (POSTGRES_HOST_AUTH_METHOD, scram-sha-256 by default): a client in another container."""
    server, _ = database
    address = subprocess.run(
        ["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", server.id], capture_output=True, text=True
    ).stdout.strip()

    def query(password: str):
        url = f"postgresql://mlflow:{password}@{address}:5432/mlflow"
        return run_as_pod(image("postgres"), UID, args=["psql", url, "-tAc", "SELECT 1"], detach=False)

    wrong = query("wrong")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    assert query("s3cret").stdout.strip() == "1"


def test_without_a_password_it_refuses_to_initialise_and_says_how_to_fix_it(image, run_as_pod, tmp_path):
    done = run_as_pod(
        image("postgres"),
        UID,
        env={"PGDATA": PGDATA},
        volumes=[(volume(tmp_path / "data"), "/var/lib/postgresql/data", False)],
        scratch=SCRATCH,
        detach=False,
    )
    assert done.returncode != 0 and "POSTGRES_PASSWORD" in done.stderr


def _job(image, run_as_pod, tmp_path, server, cronjob: str, backups, **env):
    """Run a registry CronJob's container once, as its Job would: its command, its environment, its
    scripts handed over as the ConfigMap, sharing the server's network (PGHOST=127.0.0.1)."""
    manifests = rendered("foundation").manifests
    scripts = find(manifests, "ConfigMap", "mlflow-db-scripts", "mlops-system")["data"]
    job = find(manifests, "CronJob", cronjob, "mlops-system")["spec"]["jobTemplate"]["spec"]["template"]
    container = job["spec"]["containers"][0]
    variables = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    variables.update({"PGUSER": "mlflow", "PGPASSWORD": "s3cret", "PGDATABASE": "mlflow", "PGHOST": "127.0.0.1"})
    return run_as_pod(
        image("postgres"),
        UID,
        entrypoint=container["command"][0],
        args=container["command"][1:],
        env={**variables, **env},
        volumes=[(backups, "/backups", False), (handed_over(tmp_path / cronjob, scripts), "/scripts", True)],
        scratch=("/tmp",),
        network=f"container:{server.id}",
        detach=False,
    )


def test_the_backup_and_restore_jobs_run_their_scripts_as_70_from_the_configmap(database, image, run_as_pod, tmp_path):
    """backup.sh and restore.sh are handed over as the CronJobs mount them (a ConfigMap), never read
    from the checkout, and every tool they call is in the image for UID 70 on a read-only root."""
    server, _ = database
    backups = volume(tmp_path / "backups")
    backup = _job(image, run_as_pod, tmp_path, server, "mlflow-db-backup", backups)
    assert backup.returncode == 0, backup.stderr
    assert "backup written: /backups/mlflow-" in backup.stdout
    assert len(list(backups.glob("mlflow-*.dump.sha256"))) == 1
    server.exec("psql", "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow", "-c", "DELETE FROM models")
    restore = _job(image, run_as_pod, tmp_path, server, "mlflow-db-restore", backups, RESTORE_FORCE="1")
    assert restore.returncode == 0, restore.stderr
    rows = server.exec("psql", "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow", "-tAc", "SELECT name FROM models")
    assert rows.stdout.strip() == "iris"


def test_wal_archiving_arguments_start_the_server_and_archive_a_segment(image, run_as_pod, tmp_path):
    """With an RPO under 15 minutes the StatefulSet passes `-c archive_command=...` args: the entrypoint
    must hand them to postgres, and archive-wal.sh (sh, gzip, cmp) must work as 70 on a read-only root."""
    manifests = rendered_with_wal_archiving().manifests
    statefulset = find(manifests, "StatefulSet", "mlflow-db", "mlops-system")
    args = statefulset["spec"]["template"]["spec"]["containers"][0]["args"]
    volumes, scratch = pod_volumes(manifests, statefulset, tmp_path)
    backups = next(host for host, path, _ in volumes if path == "/backups")
    container = run_as_pod(
        image("postgres"), UID, args=args, env={**ENV, "PGDATA": PGDATA}, volumes=volumes, scratch=scratch
    )
    container.wait_log(INITIALISED, timeout=120)
    container.wait_log(READY, timeout=60)
    url = "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow"
    assert container.exec("psql", url, "-tAc", "SHOW archive_mode").stdout.strip() == "on"
    assert container.exec("psql", url, "-c", "CREATE TABLE t AS SELECT 1 AS x; SELECT pg_switch_wal()").returncode == 0
    for _ in range(60):
        if list((backups / "wal").glob("*.gz")):
            break
        container.exec("sleep", "1")
    assert list((backups / "wal").glob("*.gz")), container.logs()[-2000:]
