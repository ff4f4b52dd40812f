"""Federated learning in the cluster (ADR 0023): the run spec from the blueprint, a Job template running
it in a restricted pod within the tenant's quota, and a pod nothing can reach and that reaches only
DNS and the tenant's registry."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from blueprints import load
from blueprints.loader import BLUEPRINT_DIR
from blueprints.naming import Ports
from blueprints.quantity import parse_quantity
from blueprints.schema import tenant_peak_limits
from infra.components.federated_learning import COMPONENT, SPEC_DIR, SPEC_FILE, run_args
from infra.render import render_blueprint
from services.federated.spec import RunSpec
from tests.infra.conftest import find, rendered


def _cronjob(manifests=None) -> dict:
    return find(manifests or rendered("federated").manifests, "CronJob", "activity-federated", "mobile")


def _pod(manifests=None) -> dict:
    return _cronjob(manifests)["spec"]["jobTemplate"]["spec"]["template"]


def test_the_configmap_holds_the_run_the_blueprint_declares():
    config = find(rendered("federated").manifests, "ConfigMap", "activity-federated", "mobile")
    model = load("federated").tenant("mobile").models[0]
    assert RunSpec.from_json(config["data"][SPEC_FILE]) == RunSpec.from_blueprint("mobile", "activity", model.federated)


def test_the_job_template_runs_fl_run_on_that_spec_once_within_its_deadline():
    cronjob = _cronjob()
    assert cronjob["spec"]["suspend"] is True  # no schedule in the blueprint: runs start by hand
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"  # one run at a time: what the quota counts
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] == 60 * 60
    pod = job["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["mlplat"] and container["args"] == run_args()
    assert run_args() == ["fl", "run", "--spec", f"{SPEC_DIR}/{SPEC_FILE}"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/tmp": "tmp", SPEC_DIR: "spec"}
    assert {"name": "spec", "configMap": {"name": "activity-federated"}} in pod["volumes"]


def test_the_pod_is_restricted_and_signs_in_as_its_tenant():
    pod = _pod()["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_TRACKING_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-credentials"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}


def test_the_tenants_quota_holds_the_run_beside_its_model_servers():
    blueprint = load("federated")
    tenant = blueprint.tenant("mobile")
    cpu, memory, pods = tenant_peak_limits(tenant, blueprint.platform)
    federated = tenant.models[0].federated.resources.limits
    assert cpu >= federated.cores() and memory >= federated.bytes()
    assert cpu <= parse_quantity(tenant.quotas.cpu) and memory <= parse_quantity(tenant.quotas.memory)


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels and labels[expression["key"]] in expression.get("values", [])
        if present != (expression["operator"] == "In"):
            return False
    return True


def test_nothing_reaches_the_federated_pod_and_it_reaches_only_dns_the_registry_and_its_tenants_servers():
    """The server and its simulated devices are all inside the pod: no port of it is open to anyone. Out of it,
    like every pod of the tenant, it reaches DNS, the registry and the tenant's own model servers (REST, gRPC)."""
    labels = _pod()["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == COMPONENT
    policies = [
        m
        for m in rendered("federated").manifests
        if m["kind"] == "NetworkPolicy" and m["metadata"]["namespace"] == "mobile"
    ]
    applying = [p["spec"] for p in policies if _selects(p["spec"]["podSelector"], labels)]
    assert not [rule for spec in applying for rule in spec.get("ingress", [])]
    assert any("Ingress" in spec["policyTypes"] and not spec.get("ingress") for spec in applying)  # default deny
    ports = sorted({port["port"] for spec in applying for rule in spec.get("egress", []) for port in rule["ports"]})
    assert ports == [Ports.DNS, Ports.MLFLOW, Ports.MODEL_SERVER, Ports.MODEL_SERVER_GRPC]
    egress = [rule for spec in applying for rule in spec.get("egress", [])]
    to_servers = [rule["to"] for rule in egress if rule["ports"][0]["port"] == Ports.MODEL_SERVER]
    assert to_servers == [[{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "model-server"}}}]]


def test_a_scheduled_federated_model_runs_on_its_schedule():
    spec = yaml.safe_load((BLUEPRINT_DIR / "federated.yaml").read_text())
    spec["tenants"][0]["models"][0]["federated"]["schedule"] = "0 1 * * *"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scheduled.yaml"
        path.write_text(yaml.safe_dump(spec))
        manifests = render_blueprint(path).manifests
    cronjob = _cronjob(manifests)
    assert cronjob["spec"]["schedule"] == "0 1 * * *" and cronjob["spec"]["suspend"] is False
    assert json.loads(find(manifests, "ConfigMap", "activity-federated", "mobile")["data"][SPEC_FILE])["rounds"] == 30
