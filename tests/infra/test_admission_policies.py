"""AdmissionPolicies: what the program deploys for the admission gate, for every shipped blueprint."""

from __future__ import annotations

from collections import Counter

from blueprints import load
from blueprints.loader import BLUEPRINT_DIR
from blueprints.naming import LABEL_TENANT
from infra.render import render_blueprint
from policies.admission.policies import admission_objects, policy_name
from policies.catalog import ADMISSION_RULE_IDS
from tests.infra.conftest import rendered


def _admission(manifests: list[dict]) -> list[dict]:
    return [m for m in manifests if m["apiVersion"].startswith("admissionregistration.k8s.io/")]


def test_one_component_deploys_a_policy_and_a_binding_per_admission_rule(blueprint_name):
    captured = rendered(blueprint_name)
    assert Counter(t for t, _ in captured.others)["mlops-platform:platform:AdmissionPolicies"] == 1
    kinds = Counter(m["kind"] for m in _admission(captured.manifests))
    assert kinds == {
        "ValidatingAdmissionPolicy": len(ADMISSION_RULE_IDS),
        "ValidatingAdmissionPolicyBinding": len(ADMISSION_RULE_IDS),
    }


def _by_name(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_the_deployed_objects_are_the_ones_the_tests_evaluate(blueprint_name):
    expected = admission_objects(load(blueprint_name).platform.policy)
    assert _by_name(_admission(rendered(blueprint_name).manifests)) == _by_name(expected)


def test_the_blueprints_levels_reach_the_bindings():
    bindings = {
        m["metadata"]["name"]: m["spec"]["validationActions"]
        for m in _admission(rendered("multi-tenant").manifests)
        if m["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    assert bindings.pop(policy_name("required-labels")) == ["Warn", "Audit"]  # advisory in multi-tenant.yaml
    assert set(map(tuple, bindings.values())) == {("Deny", "Audit")}


def test_a_disabled_rule_deploys_no_policy(tmp_path):
    blueprint = tmp_path / "bp.yaml"
    text = (BLUEPRINT_DIR / "foundation.yaml").read_text()
    blueprint.write_text(
        text.replace("tenants:\n", "  policy:\n    enforcement: {no-host-path: disabled}\ntenants:\n", 1)
    )
    names = {m["metadata"]["name"] for m in _admission(render_blueprint(blueprint).manifests)}
    assert policy_name("no-host-path") not in names
    assert policy_name("no-privileged") in names


def test_the_bindings_select_the_label_every_tenant_namespace_carries(blueprint_name):
    manifests = rendered(blueprint_name).manifests
    tenants = {
        m["metadata"]["name"] for m in manifests if m["kind"] == "Namespace" and LABEL_TENANT in m["metadata"]["labels"]
    }
    assert tenants == {tenant.name for tenant in load(blueprint_name).tenants}
    for binding in (m for m in _admission(manifests) if m["kind"] == "ValidatingAdmissionPolicyBinding"):
        (expression,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
        assert expression == {"key": LABEL_TENANT, "operator": "Exists"}
