"""Continuous training in the cluster: a Job template per trained model, one trigger with narrow RBAC,
and Alertmanager routing the drift alert to it."""

from __future__ import annotations

import json

import yaml

from blueprints import load
from infra.components.training_trigger import LAUNCHER_RULES, alerts_url
from services.training.command import train_args
from services.training.targets import targets_from_json, training_targets
from tests.infra.conftest import find, rendered


def _template(blueprint="foundation", model="iris", ns="data-science"):
    return find(rendered(blueprint).manifests, "CronJob", f"{model}-training", ns)


def test_each_trained_model_has_a_suspended_job_template_running_mlplat_train():
    for name in ("foundation", "multi-tenant"):
        for tenant in load(name).tenants:
            for model in tenant.models:
                if model.training is None:
                    continue
                cronjob = _template(name, model.name, tenant.name)
                assert cronjob["spec"]["suspend"] is True  # only the trigger starts runs (ADR 0013)
                container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
                assert container["args"] == train_args(tenant.name, model)


def test_a_training_run_is_not_retried_silently_and_has_the_blueprints_deadline():
    spec = _template()["spec"]["jobTemplate"]["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == load("foundation").tenants[0].models[0].training.timeout_minutes * 60
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True


def test_the_trigger_may_only_read_templates_and_run_jobs_in_tenants_with_trained_models():
    manifests = rendered("multi-tenant").manifests
    roles = [m for m in manifests if m["kind"] == "Role" and m["metadata"]["name"] == "training-launcher"]
    assert [r["metadata"]["namespace"] for r in roles] == ["fraud"]  # the only tenant with a trained model
    assert roles[0]["rules"] == LAUNCHER_RULES
    for rule in LAUNCHER_RULES:
        assert rule["apiGroups"] == ["batch"] and "*" not in rule["verbs"]
    binding = find(manifests, "RoleBinding", "training-launcher", "fraud")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "training-trigger", "namespace": "mlops-system"}]
    assert not [m for m in manifests if m["kind"] == "ClusterRoleBinding" and "training" in m["metadata"]["name"]]


def test_one_trigger_replica_reads_the_blueprints_targets_and_keeps_an_audit_log():
    manifests = rendered("foundation").manifests
    deployment = find(manifests, "Deployment", "training-trigger", "mlops-system")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "training-trigger" and pod["automountServiceAccountToken"] is True
    args = pod["containers"][0]["args"]
    assert args[args.index("--launcher") + 1] == "kubernetes"
    targets = find(manifests, "ConfigMap", "training-targets", "mlops-system")["data"]["targets.json"]
    assert targets_from_json(targets) == training_targets(load("foundation"))
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


def test_alertmanager_routes_the_drift_alert_to_the_trigger_and_prometheus_scrapes_the_pushgateway():
    manifests = rendered("foundation").manifests
    config = yaml.safe_load(find(manifests, "ConfigMap", "alertmanager-config")["data"]["alertmanager.yml"])
    route = next(r for r in config["route"]["routes"] if r["matchers"] == ['alertname="ModelFeatureDrift"'])
    receiver = next(r for r in config["receivers"] if r["name"] == route["receiver"])
    assert (
        receiver["webhook_configs"][0]["url"] == alerts_url() == "http://training-trigger.mlops-system.svc:8095/alerts"
    )
    prometheus = yaml.safe_load(find(manifests, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    assert jobs["pushgateway"] == {
        "job_name": "pushgateway",
        "honor_labels": True,
        "static_configs": [{"targets": ["pushgateway.mlops-monitoring.svc:9091"]}],
    }


def test_without_trained_models_there_is_no_trigger_and_no_route_to_it():
    manifests = rendered("enterprise").manifests
    assert not [m for m in manifests if "training" in m["metadata"]["name"]]
    config = yaml.safe_load(find(manifests, "ConfigMap", "alertmanager-config")["data"]["alertmanager.yml"])
    assert config["route"]["routes"] == []
    assert json.dumps(config).count("webhook") == 0
