"""ModelRegistry: MLflow on PostgreSQL, secrets generated, artifacts proxied, backups scheduled."""

from __future__ import annotations

import re

from infra.render import render_blueprint
from tests.infra.conftest import find, rendered


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
    assert args[args.index("--backend-store-uri") + 1].startswith("postgresql://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@")
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


def test_backup_cronjob_runs_the_shared_script_onto_a_separate_volume_nightly():
    manifests = rendered("multi-tenant").manifests
    job = find(manifests, "CronJob", "mlflow-db-backup", "mlops-system")
    assert job["spec"]["schedule"] == "0 2 * * *"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "mlflow-backups"}} in pod["volumes"]
    script = find(manifests, "ConfigMap", "mlflow-backup-script", "mlops-system")["data"]["backup.sh"]
    assert "pg_dump --format=custom" in script
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["BACKUP_RETAIN"] == "7"


def test_enterprise_backups_follow_the_15_minute_rpo():
    job = find(rendered("enterprise").manifests, "CronJob", "mlflow-db-backup", "mlops-system")
    assert job["spec"]["schedule"] == "*/15 * * * *"


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
