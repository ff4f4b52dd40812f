"""RegistryAccess and the registry's authentication: every user's Secret where its workload runs, the
bootstrap Job that grants the plan, MLflow serving with its auth app, Prometheus signing in (ADR 0017)."""

from __future__ import annotations

import yaml

from blueprints import load
from infra.render import render_blueprint
from services.cli import build_parser
from services.registry.access import ADMIN, GATE, MONITORING, AccessPlan, access_plan, password_env
from tests.infra.conftest import find, rendered


def _secret_value(manifests: list[dict], name: str, namespace: str, key: str) -> str:
    return find(manifests, "Secret", name, namespace)["stringData"][key]


def _bootstrap_job(manifests: list[dict], plan, namespace: str) -> dict:
    """The registry's bootstrap Job for `plan`: named after the plan and the image, annotated with the plan."""
    jobs = [
        m
        for m in manifests
        if m["kind"] == "Job"
        and m["metadata"]["namespace"] == namespace
        and m["metadata"].get("annotations", {}).get("platform.mlops/access-plan") == plan.digest()
    ]
    assert len(jobs) == 1, f"{len(jobs)} bootstrap Jobs for plan {plan.digest()} in {namespace}"
    assert jobs[0]["metadata"]["name"].startswith("registry-access-")
    return jobs[0]


def test_every_user_has_a_generated_password_in_the_registry_and_a_copy_where_it_signs_in():
    manifests = rendered("multi-tenant").manifests
    plan = access_plan(load("multi-tenant"))
    for tenant in ("fraud", "recsys", "forecasting"):
        for user, copy in ((tenant, "mlflow-credentials"), (f"{tenant}.serving", "mlflow-serving-credentials")):
            original = find(manifests, "Secret", f"mlflow-user-{user.replace('.', '-')}", "mlops-system")
            consumed = find(manifests, "Secret", copy, tenant)
            assert original["stringData"] == consumed["stringData"]
            assert consumed["stringData"]["MLFLOW_TRACKING_USERNAME"] == user
            assert len(consumed["stringData"]["MLFLOW_TRACKING_PASSWORD"]) == 32
    monitoring = _secret_value(manifests, "mlflow-user-platform-monitoring", "mlops-system", "MLFLOW_TRACKING_PASSWORD")
    assert _secret_value(manifests, "registry-monitoring-shared", "mlops-monitoring", "password") == monitoring
    assert find(manifests, "Secret", "mlflow-user-platform-gate", "mlops-system")
    assert set(plan.users) == {GATE, MONITORING} | {
        u for t in ("fraud", "recsys", "forecasting") for u in (t, f"{t}.serving")
    }


def test_passwords_are_generated_at_deploy_time_never_constants():
    again = render_blueprint("foundation").manifests
    first = rendered("foundation").manifests
    for name, key in (
        ("mlflow-credentials", "MLFLOW_TRACKING_PASSWORD"),
        ("mlflow-serving-credentials", "MLFLOW_TRACKING_PASSWORD"),
    ):
        assert _secret_value(first, name, "data-science", key) != _secret_value(again, name, "data-science", key)
    assert _secret_value(first, "mlflow-admin", "mlops-system", "password") != _secret_value(
        again, "mlflow-admin", "mlops-system", "password"
    )


def test_the_bootstrap_job_applies_the_blueprint_plan_as_the_admin():
    manifests = rendered("multi-tenant").manifests
    plan = access_plan(load("multi-tenant"))
    job = _bootstrap_job(manifests, plan, "mlops-system")
    assert job["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"  # a deploy never waits on it
    config = find(manifests, "ConfigMap", "registry-access", "mlops-system")
    assert AccessPlan.from_json(config["data"]["access.json"]) == plan
    container = job["spec"]["template"]["spec"]["containers"][0]
    parsed = build_parser().parse_args(container["args"])  # the real CLI accepts the Job's command
    assert parsed.action == "bootstrap" and str(parsed.plan) == "/etc/registry-access/access.json"
    assert parsed.tracking_uri == "http://mlflow.mlops-system.svc:5000"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert env["MLFLOW_TRACKING_USERNAME"] == {"name": "mlflow-admin", "key": "username"}
    assert find(manifests, "Secret", "mlflow-admin", "mlops-system")["stringData"]["username"] == ADMIN
    for user in plan.users:  # every user's password, from that user's own Secret
        assert env[password_env(user)]["name"] == f"mlflow-user-{user.replace('.', '-')}"


def test_a_changed_blueprint_is_a_new_bootstrap_job():
    plan = access_plan(load("multi-tenant"))
    fewer = access_plan(load("foundation"))
    assert plan.digest() != fewer.digest()
    assert _bootstrap_job(rendered("foundation").manifests, fewer, "mlops-system")


def test_mlflow_serves_with_its_auth_app_configured_from_secrets():
    deployment = find(rendered("multi-tenant").manifests, "Deployment", "mlflow", "mlops-system")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["mlplat"]
    parsed = build_parser().parse_args(container["args"])
    assert parsed.action == "server" and parsed.auth_database_uri is None  # from the environment
    env = {e["name"]: e for e in container["env"]}
    database = env["MLPLAT_AUTH_DATABASE_URI"]["value"]
    assert database == parsed.mlflow_args[parsed.mlflow_args.index("--backend-store-uri") + 1]  # one database
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "mlflow-admin", "key": "password"}
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-admin"


def test_a_dedicated_registry_has_its_own_users_in_its_tenant_namespace():
    manifests = rendered("enterprise").manifests
    plan = access_plan(load("enterprise"), "clinical")
    assert set(plan.users) == {GATE, MONITORING, "clinical", "clinical.serving"}
    assert _bootstrap_job(manifests, plan, "clinical")
    assert find(manifests, "Secret", "mlflow-admin", "clinical")
    assert find(manifests, "Secret", "mlflow-serving-credentials", "clinical")
    shared = access_plan(load("enterprise"), "shared")
    assert "clinical" not in shared.users and "readmission" not in {m for m, _ in shared.models}


def test_prometheus_signs_in_to_each_registry_with_a_password_file_it_mounts():
    manifests = rendered("enterprise").manifests
    config = yaml.safe_load(
        find(manifests, "ConfigMap", "prometheus-config", "mlops-monitoring")["data"]["prometheus.yml"]
    )
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for namespace, instance in (("mlops-system", "shared"), ("clinical", "clinical")):
        job = jobs[f"registry-server-{namespace}"]
        assert job["basic_auth"] == {
            "username": MONITORING,
            "password_file": f"/etc/prometheus/registries/{instance}/password",
        }
        assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [namespace]}}]
    pod = find(manifests, "Deployment", "prometheus", "mlops-monitoring")["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"registry-monitoring-shared", "registry-monitoring-clinical"}
    # the other pods are still scraped without credentials, and registries only by their own jobs
    drop = [r for r in jobs["platform-pods"]["relabel_configs"] if r.get("action") == "drop"]
    assert drop and drop[0]["regex"] == "registry-server"
