"""The admission policies: the objects built from a blueprint, and their CEL run by cel-expr-python
the way the API server runs it (match, matchConditions, variables, validations, messages)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from blueprints.naming import LABEL_TENANT
from blueprints.schema import PolicySettings
from infra.versions import kubernetes_version
from policies.admission.engine import AdmissionEngine, PolicyError, check
from policies.admission.policies import admission_objects, policy_name, rule_of_denial, rule_of_policy
from policies.admission.rules import ADMISSION_RULES
from policies.catalog import ADMISSION_RULE_IDS
from policies.kube import from_manifest
from tests.policies.corpus import CASES_DIR, Case, bad_cases

TENANT = {LABEL_TENANT: "team-a"}
DEFAULTS = PolicySettings()


def _objects(settings: PolicySettings = DEFAULTS) -> list[dict]:
    return admission_objects(settings)


def _engine(settings: PolicySettings = DEFAULTS) -> AdmissionEngine:
    return AdmissionEngine(_objects(settings))


def _case(name: str) -> dict:
    return Case(CASES_DIR / f"{name}.yaml", None).documents(namespace="team-a")[0]


def _policies(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"}


def _bindings(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding"}


def test_every_admission_rule_is_one_policy_and_one_binding_named_after_it():
    objects = _objects()
    names = [policy_name(rule) for rule in ADMISSION_RULE_IDS]
    assert list(_policies(objects)) == names
    assert list(_bindings(objects)) == names
    assert all(b["spec"]["policyName"] == b["metadata"]["name"] for b in _bindings(objects).values())
    assert [rule.id for rule in ADMISSION_RULES] == list(ADMISSION_RULE_IDS)


def test_bindings_select_namespaces_that_carry_the_tenant_label():
    for binding in _bindings(_objects()).values():
        assert binding["spec"]["matchResources"] == {
            "namespaceSelector": {"matchExpressions": [{"key": LABEL_TENANT, "operator": "Exists"}]}
        }


def test_levels_pick_the_validation_actions_and_disabled_rules_deploy_nothing():
    settings = PolicySettings(enforcement={"required-labels": "advisory", "no-host-path": "disabled"})
    objects = _objects(settings)
    actions = {name: b["spec"]["validationActions"] for name, b in _bindings(objects).items()}
    assert actions[policy_name("required-labels")] == ["Warn", "Audit"]
    assert actions[policy_name("no-privileged")] == ["Deny", "Audit"]
    assert policy_name("no-host-path") not in _policies(objects) and policy_name("no-host-path") not in actions


def test_the_allowed_registries_variable_lists_the_blueprint_registries():
    policy = _policies(_objects(PolicySettings(allowed_registries=["quay.io", "ghcr.io/my-org"])))
    variables = {v["name"]: v["expression"] for v in policy[policy_name("allowed-registries")]["spec"]["variables"]}
    assert variables["allowedRegistries"] == "['quay.io', 'ghcr.io/my-org']"


def test_every_message_names_its_rule():
    for name, policy in _policies(_objects()).items():
        for validation in policy["spec"]["validations"]:
            assert validation["message"].startswith(f"[{rule_of_policy(name)}] ")
            assert validation["messageExpression"].startswith(f"'[{rule_of_policy(name)}] ")


def test_a_denial_message_maps_back_to_its_rule():
    message = (
        'Error from server (Forbidden): pods "web" is forbidden: ValidatingAdmissionPolicy '
        "'no-privileged.platform.mlops' with binding 'no-privileged.platform.mlops' denied request: [no-privileged] web"
    )
    assert rule_of_denial(message) == "no-privileged"
    assert rule_of_denial('pods "web" is forbidden: violates PodSecurity "restricted:latest"') is None


def test_every_policy_and_binding_is_valid_for_the_pinned_kubernetes_version():
    major, minor, _ = kubernetes_version().split(".")
    for obj in _objects():
        kubernetes_validate.validate(obj, f"{major}.{minor}.0", strict=True)


def test_every_cel_expression_compiles_in_the_engine():
    engine = _engine()  # compiles every matchCondition, variable, validation and messageExpression
    assert len(engine.policies) == len(ADMISSION_RULE_IDS)


def test_a_policy_whose_cel_does_not_compile_is_named_with_its_field():
    objects = copy.deepcopy(_objects())
    objects[0]["spec"]["validations"][0]["expression"] = "size(variables.offenders) =="
    with pytest.raises(PolicyError, match=r"container-resources.platform.mlops: spec.validations\[0\].expression"):
        AdmissionEngine(objects)


@pytest.mark.parametrize("case", [c for c in bad_cases() if c.admission_rule], ids=lambda c: c.name)
def test_each_rule_is_what_refuses_its_cases(case):
    """Neutralise the case's rule (its validation always holds) and the case is admitted: the
    refusal the corpus test sees comes from that rule's CEL and from nothing else."""
    objects = copy.deepcopy(_objects())
    for validation in _policies(objects)[policy_name(case.rule)]["spec"]["validations"]:
        validation["expression"] = "true"
    engine = AdmissionEngine(objects)
    for document in case.documents(namespace="team-a"):
        assert engine.review(from_manifest(document), TENANT) == []


def test_objects_outside_tenant_namespaces_are_not_reviewed():
    privileged = from_manifest(_case("bad/no-privileged--pod"))
    assert [d.rule for d in _engine().review(privileged, TENANT)] == ["no-privileged"]
    assert _engine().review(privileged, {"kubernetes.io/metadata.name": "mlops-system"}) == []


def test_an_object_being_deleted_is_exempt_so_finalizers_can_always_be_removed():
    pod = _case("bad/no-privileged--pod")
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert _engine().review(from_manifest(pod), TENANT, operation="UPDATE") == []


def test_an_expression_error_denies_the_request():
    deployment = _case("good/deployment")
    del deployment["spec"]["template"]  # the pod variables cannot be computed
    decisions = _engine().review(from_manifest(deployment), TENANT)
    assert decisions and all(d.error and "Deny" in d.actions for d in decisions)
    assert "failed" in decisions[0].message


def test_the_static_message_stands_in_when_the_message_expression_fails():
    objects = copy.deepcopy(_objects())
    validation = _policies(objects)[policy_name("no-privileged")]["spec"]["validations"][0]
    validation["messageExpression"] = "'[no-privileged] ' + object.no.such.field"
    (decision,) = AdmissionEngine(objects).review(from_manifest(_case("bad/no-privileged--pod")), TENANT)
    assert (decision.message, decision.from_message_expression) == (validation["message"], False)


def test_an_advisory_rule_warns_instead_of_denying():
    settings = PolicySettings(enforcement={"image-pinned": "advisory"})
    (finding,) = check([from_manifest(_case("bad/image-pinned--pod-latest"))], settings)
    assert (finding.rule, finding.level) == ("image-pinned", "advisory")


# What the API server's CEL environment has and the offline engine lacks (docs/policies.md keeps
# this list). Each must fail to compile here, which is why the policies use none of them.
KUBERNETES_ONLY = {
    "strings extension": "'a,b'.split(',')",
    "strings extension (lowerAscii)": "'A'.lowerAscii() == 'a'",
    "optional types": "object.?spec.orValue({}) == {}",
    "Kubernetes list library": "[1, 2].sum() == 3",
    "Kubernetes regex library": "'abc'.find('b') == 'b'",
    "Kubernetes URL library": "isURL('https://example.com')",
    "Kubernetes IP and CIDR libraries": "ip('10.0.0.1').family() == 4",
    "Kubernetes quantity library": "quantity('1Gi').isGreaterThan(quantity('1Mi'))",
    "Kubernetes format library": "format.dns1123Label().validate('x').hasValue() == false",
    "Kubernetes semver library": "semver('1.2.3').major() == 1",
    "sets extension": "sets.contains([1, 2], [1])",
    "two-variable comprehensions": "[1].all(i, v, v > 0)",
    "base64 encoders": "base64.encode(b'a') == 'YQ=='",
    "the authorizer variable": "authorizer.group('').resource('pods').check('get').allowed()",
}


@pytest.mark.parametrize("expression", KUBERNETES_ONLY.values(), ids=KUBERNETES_ONLY.keys())
def test_the_engine_lacks_the_kubernetes_cel_libraries(expression):
    assert _engine().compile_error(expression) is not None


def test_the_engine_has_the_standard_macros_and_functions_the_policies_use():
    for expression in (
        "[1].all(x, x > 0) && [1].exists(x, x == 1) && [1].exists_one(x, x == 1)",
        "size([1].filter(x, x > 0).map(x, x * 2)) == 1 && has(object.metadata)",
        "'ab'.startsWith('a') && 'ab'.endsWith('b') && 'ab'.contains('a') && 'ab'.matches('^a') && 'a' in ['a']",
        "string(1) == '1'",
    ):
        assert _engine().compile_error(expression) is None
