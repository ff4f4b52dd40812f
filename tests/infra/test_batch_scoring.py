"""BatchScoring: every batch job of a blueprint is a hardened CronJob running `mlplat batch score`."""

from __future__ import annotations

from blueprints import load
from infra.components.batch_scoring import DATA_DIR
from services.batch.command import batch_args
from tests.infra.conftest import find, rendered


def _cronjob(name="iris-nightly", ns="data-science", blueprint="foundation"):
    return find(rendered(blueprint).manifests, "CronJob", name, ns)


def test_every_batch_job_of_every_blueprint_gets_a_cronjob_and_its_volume():
    for name in ("foundation", "multi-tenant", "enterprise"):
        manifests = rendered(name).manifests
        for tenant in load(name).tenants:
            for job in tenant.batch:
                assert find(manifests, "CronJob", job.name, tenant.name)["spec"]["schedule"] == job.schedule
                claim = find(manifests, "PersistentVolumeClaim", f"{job.name}-data", tenant.name)
                assert claim["spec"]["resources"]["requests"]["storage"] == job.storage


def test_a_run_never_overlaps_retries_as_declared_and_has_a_deadline():
    job = load("foundation").tenants[0].batch[0]
    spec = _cronjob()["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    run = spec["jobTemplate"]["spec"]
    assert run["backoffLimit"] == job.backoff_limit == 1
    assert run["activeDeadlineSeconds"] == job.timeout_minutes * 60
    assert run["template"]["spec"]["restartPolicy"] == "Never"


def test_the_pod_runs_the_same_command_as_standalone_and_the_cli_accepts_it():
    from services.cli import build_parser

    tenant = load("foundation").tenants[0]
    container = _cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["mlplat"]
    assert container["args"] == batch_args(tenant.batch[0], tenant.name, DATA_DIR)
    parsed = build_parser().parse_args(container["args"])
    assert (
        parsed.input.as_posix() == "/data/incoming/iris.csv" and parsed.output.as_posix() == "/data/scored/iris.parquet"
    )
    env = {e["name"]: e.get("value") or e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["MLPLAT_PUSHGATEWAY"] == "http://pushgateway.mlops-monitoring.svc:9091"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlops-system.svc.cluster.local:5000"
    # it reads the model as its tenant's read-only registry user (ADR 0017)
    assert env["MLFLOW_TRACKING_PASSWORD"] == {"name": "mlflow-serving-credentials", "key": "MLFLOW_TRACKING_PASSWORD"}


def test_the_batch_pod_has_the_same_restricted_security_context_as_serving():
    pod = _cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    serving = find(rendered("foundation").manifests, "Deployment", "iris", "data-science")["spec"]["template"]["spec"]
    assert pod["securityContext"] == serving["securityContext"]
    assert pod["containers"][0]["securityContext"] == serving["containers"][0]["securityContext"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "serving"
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {DATA_DIR, "/tmp"}  # the root filesystem is read-only: only these are writable


def test_batch_pods_are_labelled_for_their_tenant_model_and_network_policy():
    labels = _cronjob()["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "batch-scoring"
    assert (labels["platform.mlops/tenant"], labels["platform.mlops/model"]) == ("data-science", "iris")
