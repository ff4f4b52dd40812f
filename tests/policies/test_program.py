"""The Pulumi program's own output, captured under mocks for every shipped blueprint, against both
gates: it passes every mandatory rule, and the deploy rules and the admission CEL judge its
objects alike (a differential test on real objects, one broken field at a time)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from blueprints import SHIPPED, load
from blueprints.naming import LABEL_TENANT
from policies.admission.engine import AdmissionEngine
from policies.admission.engine import check as admission_check
from policies.admission.policies import admission_objects
from policies.deploy.check import check as deploy_check
from policies.deploy.rules import RESOURCE_RULES
from policies.kube import POD_TEMPLATE_PATHS, KubeObject, from_manifest, is_tenant_namespace
from tests.infra.conftest import rendered


@pytest.fixture(params=SHIPPED)
def blueprint_name(request: pytest.FixtureRequest) -> str:
    return request.param


def _objects(blueprint: str) -> list[KubeObject]:
    return [from_manifest(m, blueprint) for m in copy.deepcopy(rendered(blueprint).manifests)]


def _tenant_workloads(blueprint: str) -> list[dict]:
    return [
        copy.deepcopy(m)
        for m in rendered(blueprint).manifests
        if m["kind"] in POD_TEMPLATE_PATHS and is_tenant_namespace(m["metadata"].get("namespace", ""))
    ]


def test_every_blueprint_passes_every_mandatory_deploy_rule(blueprint_name):
    findings = deploy_check(_objects(blueprint_name), load(blueprint_name).platform.policy)
    assert [f for f in findings if f.level == "mandatory"] == []


def test_every_blueprint_passes_every_mandatory_admission_policy(blueprint_name):
    findings = admission_check(_objects(blueprint_name), load(blueprint_name).platform.policy)
    assert [f for f in findings if f.level == "mandatory"] == []


def test_the_program_gives_every_rule_something_to_check():
    """Passing is only meaningful if each rule met objects it applies to."""
    objects = [obj for name in ("multi-tenant", "enterprise") for obj in _objects(name)]
    in_tenants = [obj for obj in objects if is_tenant_namespace(obj.namespace)]
    kinds = {obj.kind for obj in in_tenants}
    assert {"Deployment", "StatefulSet", "CronJob", "Service", "Role", "RoleBinding"} <= kinds
    assert any(obj.kind == "Namespace" and LABEL_TENANT in obj.labels for obj in objects)
    assert any(
        obj.kind == "Deployment"
        and obj.labels.get("app.kubernetes.io/component") == "model-server"
        and obj.body["spec"]["replicas"] > 1
        for obj in objects
    )


def _template(manifest: dict) -> dict:
    node = manifest
    for key in POD_TEMPLATE_PATHS[manifest["kind"]]:
        node = node[key]
    return node


def _first_container(manifest: dict) -> dict:
    return _template(manifest)["spec"]["containers"][0]


# One broken field per rule: applied to each of the program's tenant workloads, the deploy rules
# and the admission CEL must both refuse it for that rule and nothing else.
BREAKAGES: dict[str, Callable[[dict], None]] = {
    "container-resources": lambda m: _first_container(m)["resources"]["limits"].pop("memory"),
    "no-privileged": lambda m: _first_container(m)["securityContext"].update(
        privileged=True, allowPrivilegeEscalation=None
    ),
    "no-host-namespaces": lambda m: _template(m)["spec"].update(hostPID=True),
    "no-host-path": lambda m: (
        _template(m)["spec"].setdefault("volumes", []).append({"name": "node", "hostPath": {"path": "/"}})
    ),
    "run-as-non-root": lambda m: _first_container(m)["securityContext"].update(runAsNonRoot=False),
    "read-only-root-filesystem": lambda m: _first_container(m)["securityContext"].update(readOnlyRootFilesystem=False),
    "drop-all-capabilities": lambda m: _first_container(m)["securityContext"].update(
        capabilities={"drop": ["NET_RAW"]}
    ),
    "no-privilege-escalation": lambda m: _first_container(m)["securityContext"].update(allowPrivilegeEscalation=True),
    "image-pinned": lambda m: _first_container(m).update(image=_first_container(m)["image"].rsplit(":", 1)[0]),
    "allowed-registries": lambda m: _first_container(m).update(image="registry.example.com/app:1.0"),
    "required-labels": lambda m: _template(m)["metadata"]["labels"].pop("app.kubernetes.io/component"),
}


def _drop_nones(value):
    if isinstance(value, dict):
        return {k: _drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nones(v) for v in value]
    return value


@pytest.mark.parametrize("rule", BREAKAGES)
def test_both_gates_refuse_each_breakage_of_the_programs_workloads_for_that_rule_alone(blueprint_name, rule):
    settings = load(blueprint_name).platform.policy
    engine = AdmissionEngine(admission_objects(settings))
    for workload in _tenant_workloads(blueprint_name):
        BREAKAGES[rule](workload)
        obj = from_manifest(_drop_nones(workload), blueprint_name)
        deploy = {rule for rule, check in RESOURCE_RULES.items() if check(obj, settings)}
        cel = {d.rule for d in engine.review(obj, {LABEL_TENANT: obj.namespace})}
        assert deploy == cel == {rule}, obj.describe()


def _created_by_controllers(workload: dict) -> list[dict]:
    """The objects Kubernetes controllers create from a workload: its ReplicaSet, a Job of a
    CronJob, and the Pods. Admission reviews these too, so they must pass as well."""
    namespace = workload["metadata"]["namespace"]
    template = _template(workload)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "generated", "namespace": namespace, "labels": dict(template["metadata"]["labels"])},
        "spec": template["spec"],
    }
    created = [pod]
    if workload["kind"] == "Deployment":
        replica_set = copy.deepcopy(workload)
        replica_set.update(apiVersion="apps/v1", kind="ReplicaSet")
        replica_set["metadata"]["labels"] = dict(template["metadata"]["labels"])
        replica_set["spec"] = {k: v for k, v in workload["spec"].items() if k in ("replicas", "selector", "template")}
        created.append(replica_set)
    if workload["kind"] == "CronJob":
        job_template = workload["spec"]["jobTemplate"]
        created.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "generated", "namespace": namespace, **job_template.get("metadata", {})},
                "spec": job_template["spec"],
            }
        )
    return created


def test_what_controllers_create_from_the_programs_workloads_is_admitted(blueprint_name):
    engine = AdmissionEngine(admission_objects(load(blueprint_name).platform.policy))
    for workload in _tenant_workloads(blueprint_name):
        for created in _created_by_controllers(workload):
            obj = from_manifest(created, f"created from {workload['kind']}/{workload['metadata']['name']}")
            assert engine.review(obj, {LABEL_TENANT: obj.namespace}) == [], obj.source
