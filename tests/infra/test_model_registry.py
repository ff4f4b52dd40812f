"""ModelRegistry: MLflow on PostgreSQL, secrets generated, artifacts proxied, backups scheduled,
a restore Job template that runs the same restore.sh as the DR drill."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from infra.render import render_blueprint
from services.registry import SCRIPTS
from services.registry.cluster import job_from_template
from tests.infra.conftest import find, rendered, rendered_with_wal_archiving
from tests.infra.integrity import CHECKS
from tests.infra.test_manifests_schema import schema_version


def _mlflow(blueprint: str = "multi-tenant", namespace: str = "mlops-system") -> dict:
    return find(rendered(blueprint).manifests, "Deployment", "mlflow", namespace)


def test_database_password_is_generated_never_written_in_code_or_config():
    first = find(rendered("foundation").manifests, "Secret", "mlflow-db-credentials", "mlops-system")
    second = find(render_blueprint("foundation").manifests, "Secret", "mlflow-db-credentials", "mlops-system")
    password = first["stringData"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"[0-9a-f]{48}", password)
    assert second["stringData"]["POSTGRES_PASSWORD"] != password  # generated, not a constant


def test_mlflow_reads_the_password_from_the_secret_and_serves_artifacts_from_a_pvc():
    container = _mlflow()["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--backend-store-uri") + 1].startswith(
        "postgresql+psycopg2://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@"
    )
    assert "--serve-artifacts" in args
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-db-credentials"
    volumes = _mlflow()["spec"]["template"]["spec"]["volumes"]
    assert {"name": "artifacts", "persistentVolumeClaim": {"claimName": "mlflow-artifacts"}} in volumes


def test_mlflow_accepts_its_in_cluster_host_names():
    args = _mlflow()["spec"]["template"]["spec"]["containers"][0]["args"]
    allowed = args[args.index("--allowed-hosts") + 1].split(",")
    assert "mlflow:*" in allowed and "mlflow.mlops-system*" in allowed


def test_postgres_is_a_statefulset_with_its_own_volume():
    db = find(rendered("multi-tenant").manifests, "StatefulSet", "mlflow-db", "mlops-system")
    claim = db["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert db["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_mlflow_names_a_database_driver_the_platform_installs():
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which the platform image does not ship.
    import psycopg2  # noqa: F401  the driver named in the URL is installed
    import sqlalchemy

    args = _mlflow()["spec"]["template"]["spec"]["containers"][0]["args"]
    url = args[args.index("--backend-store-uri") + 1].replace("$(", "").replace(")", "")
    assert sqlalchemy.engine.make_url(url).get_dialect().driver == "psycopg2"


def test_the_metrics_exporter_mlflow_needs_for_expose_prometheus_is_installed():
    # `mlflow server --expose-prometheus` imports prometheus_flask_exporter, which MLflow only lists as
    # an optional extra: without it the registry's pods crash at start (the services extra names it).
    args = _mlflow()["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--expose-prometheus" in args
    import prometheus_flask_exporter  # noqa: F401


def test_backup_cronjob_runs_the_shared_script_onto_a_separate_volume_nightly():
    manifests = rendered("multi-tenant").manifests
    job = find(manifests, "CronJob", "mlflow-db-backup", "mlops-system")
    assert job["spec"]["schedule"] == "0 2 * * *"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["/bin/sh", "/scripts/backup.sh"]
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "mlflow-backups"}} in pod["volumes"]
    assert {"name": "scripts", "configMap": {"name": "mlflow-db-scripts"}} in pod["volumes"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["BACKUP_RETAIN"] == "7" and env["BACKUP_DIR"] == "/backups"


def test_the_cluster_runs_byte_for_byte_the_scripts_the_drill_and_tests_run():
    scripts = find(rendered("enterprise").manifests, "ConfigMap", "mlflow-db-scripts", "mlops-system")["data"]
    assert scripts == {path.name: path.read_text() for path in SCRIPTS}


def _restore_template(blueprint: str = "enterprise", namespace: str = "mlops-system") -> dict:
    return find(rendered(blueprint).manifests, "CronJob", "mlflow-db-restore", namespace)


def test_the_restore_template_never_runs_on_its_own_and_never_retries():
    template = _restore_template()
    assert template["spec"]["suspend"] is True
    job = template["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["template"]["spec"]["restartPolicy"] == "Never"
    container = job["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "/scripts/restore.sh"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BACKUP_FILE"] == "latest" and env["RESTORE_FORCE"] == "0"


def test_the_restore_reads_the_backup_volume_read_only_with_the_same_database_settings_as_the_backup():
    backup = find(rendered("enterprise").manifests, "CronJob", "mlflow-db-backup", "mlops-system")
    backup_container = backup["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    restore_container = _restore_template()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    connection = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "BACKUP_DIR")
    assert [e for e in restore_container["env"] if e["name"] in connection] == [
        e for e in backup_container["env"] if e["name"] in connection
    ]
    assert {"name": "backups", "mountPath": "/backups", "readOnly": True} in restore_container["volumeMounts"]


def test_a_restore_job_made_from_the_rendered_template_is_a_valid_job():
    settings = {"BACKUP_FILE": "mlflow-20250101T021500Z.dump", "RESTORE_FORCE": "1"}
    job = job_from_template(_restore_template(), settings, name="mlflow-db-restore-1")
    kubernetes_validate.validate(job, schema_version(), strict=True)
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BACKUP_FILE"] == "mlflow-20250101T021500Z.dump" and env["RESTORE_FORCE"] == "1"
    assert job["metadata"]["namespace"] == "mlops-system"


def test_a_dedicated_registry_has_its_own_restore_template_its_pods_may_reach_their_database():
    template = _restore_template("enterprise", "clinical")
    labels = template["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    egress = find(rendered("enterprise").manifests, "NetworkPolicy", "allow-registry-egress-database", "clinical")
    allowed = egress["spec"]["podSelector"]["matchExpressions"][0]["values"]
    assert labels["app.kubernetes.io/component"] in allowed


def test_the_backup_volume_takes_the_storage_class_the_blueprint_names():
    claim = find(rendered_with_wal_archiving().manifests, "PersistentVolumeClaim", "mlflow-backups", "mlops-system")
    assert claim["spec"]["storageClassName"] == "backup-hdd"
    default = find(rendered("foundation").manifests, "PersistentVolumeClaim", "mlflow-backups", "mlops-system")
    assert "storageClassName" not in default["spec"]


def test_enterprise_backups_follow_the_15_minute_rpo_with_dumps_alone():
    manifests = rendered("enterprise").manifests
    job = find(manifests, "CronJob", "mlflow-db-backup", "mlops-system")
    assert job["spec"]["schedule"] == "*/15 * * * *"
    database = find(manifests, "StatefulSet", "mlflow-db", "mlops-system")["spec"]["template"]["spec"]
    assert "args" not in database["containers"][0]  # no WAL archiving at 15 minutes (ADR 0012)
    assert not [m for m in manifests if m["metadata"]["name"] in ("mlflow-db-base-backup", "mlflow-db-pitr-restore")]


@pytest.fixture(scope="module")
def five_minute_rpo() -> list[dict]:
    return rendered_with_wal_archiving().manifests


def test_a_tighter_rpo_makes_the_database_archive_wal_at_least_every_rpo_onto_the_backup_volume(five_minute_rpo):
    container = find(five_minute_rpo, "StatefulSet", "mlflow-db", "mlops-system")["spec"]["template"]["spec"][
        "containers"
    ][0]
    settings = dict(arg.split("=", 1) for arg in container["args"] if arg != "-c")
    assert settings["archive_mode"] == "on" and settings["archive_timeout"] == "300s"
    assert settings["archive_command"] == '/bin/sh "/scripts/archive-wal.sh" "%p" "%f" "/backups/wal"'
    assert {"name": "backups", "mountPath": "/backups"} in container["volumeMounts"]
    hba = find(five_minute_rpo, "ConfigMap", "mlflow-db-hba", "mlops-system")["data"]["pg_hba.conf"]
    assert settings["hba_file"] == "/etc/postgresql/hba/pg_hba.conf" and "host    replication" in hba


def test_a_tighter_rpo_still_dumps_every_15_minutes_and_takes_base_backups_on_the_schedule(five_minute_rpo):
    assert find(five_minute_rpo, "CronJob", "mlflow-db-backup", "mlops-system")["spec"]["schedule"] == "*/15 * * * *"
    base = find(five_minute_rpo, "CronJob", "mlflow-db-base-backup", "mlops-system")
    assert base["spec"]["schedule"] == "0 2 * * *"
    container = base["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "/scripts/base-backup.sh"]


def test_jobs_sharing_the_backup_volume_with_the_database_run_on_its_node(five_minute_rpo):
    for name in ("mlflow-db-backup", "mlflow-db-base-backup", "mlflow-db-restore"):
        pod = find(five_minute_rpo, "CronJob", name, "mlops-system")["spec"]["jobTemplate"]["spec"]["template"]
        term = pod["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "mlflow-db", name


def test_every_registry_cronjob_labels_the_jobs_it_creates(five_minute_rpo):
    """The required-labels rule applies to the Jobs a CronJob creates, not only to the CronJob."""
    cronjobs = [m for m in five_minute_rpo if m["kind"] == "CronJob" and m["metadata"]["name"].startswith("mlflow-db")]
    assert {m["metadata"]["name"] for m in cronjobs} >= {"mlflow-db-backup", "mlflow-db-base-backup"}
    for cronjob in cronjobs:
        labels = cronjob["spec"]["jobTemplate"].get("metadata", {}).get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "mlops-platform", cronjob["metadata"]["name"]


def test_the_point_in_time_restore_writes_the_database_volume_and_needs_no_running_database(five_minute_rpo):
    pod = find(five_minute_rpo, "CronJob", "mlflow-db-pitr-restore", "mlops-system")["spec"]["jobTemplate"]["spec"][
        "template"
    ]["spec"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-mlflow-db-0"}} in pod["volumes"]
    assert "affinity" not in pod  # the database is scaled to 0 while it runs
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata" and "PGPASSWORD" not in env


def test_the_wal_archiving_objects_are_valid_and_wired(five_minute_rpo):
    for manifest in five_minute_rpo:
        kubernetes_validate.validate(manifest, schema_version(), strict=True)
    problems = {name: check(five_minute_rpo) for name, check in CHECKS.items()}
    assert all(found == [] for found in problems.values()), problems


def test_enterprise_registry_is_highly_available():
    deployment = _mlflow("enterprise")
    assert deployment["spec"]["replicas"] == 2
    assert "podAntiAffinity" in deployment["spec"]["template"]["spec"]["affinity"]
    pdb = find(rendered("enterprise").manifests, "PodDisruptionBudget", "mlflow", "mlops-system")
    assert pdb["spec"]["maxUnavailable"] == 1


def test_foundation_registry_has_no_pdb_for_a_single_replica():
    assert not [
        m
        for m in rendered("foundation").manifests
        if m["kind"] == "PodDisruptionBudget" and m["metadata"]["name"] == "mlflow"
    ]
