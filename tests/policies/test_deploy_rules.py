"""The deploy-time rules, one behaviour per test: each passes a hardened object and fails a broken one."""

from __future__ import annotations

import copy
import re

import pytest

from blueprints.schema import PolicySettings
from policies.deploy.rules import RESOURCE_RULES
from policies.deploy.stack_rules import STACK_RULES
from policies.kube import KubeObject, from_manifest, from_pulumi, image_is_pinned
from tests.policies.corpus import CASES_DIR, Case

SETTINGS = PolicySettings()
DIGEST = "sha256:" + "0123456789abcdef" * 4


def _good(name: str) -> dict:
    return Case(CASES_DIR / "good" / f"{name}.yaml", None).documents()[0]


def _violations(rule: str, manifest: dict, settings: PolicySettings = SETTINGS) -> list[str]:
    return RESOURCE_RULES[rule](from_manifest(manifest), settings)


def _pod(**container_security) -> dict:
    pod = _good("pod")
    pod["spec"]["containers"][0]["securityContext"].update(container_security)
    return pod


def _container(manifest: dict) -> dict:
    return manifest["spec"]["containers"][0]


@pytest.mark.parametrize("rule", sorted(RESOURCE_RULES))
def test_every_resource_rule_passes_the_hardened_pod_and_deployment(rule):
    assert _violations(rule, _good("pod")) == []
    assert _violations(rule, _good("deployment")) == []


def test_container_resources_names_what_is_missing_and_where():
    pod = _good("pod")
    del _container(pod)["resources"]["limits"]["memory"]
    assert _violations("container-resources", pod) == [
        "container 'web' (spec.containers[0]) has no limits.memory: "
        "set cpu and memory under resources.requests and resources.limits"
    ]


def test_container_resources_counts_init_containers():
    job = _good("job-with-init-container")
    del job["spec"]["template"]["spec"]["initContainers"][0]["resources"]
    (problem,) = _violations("container-resources", job)
    assert "spec.template.spec.initContainers[0]" in problem


def test_no_privileged_refuses_a_privileged_container_and_accepts_privileged_false():
    assert _violations("no-privileged", _pod(privileged=True))
    assert _violations("no-privileged", _pod(privileged=False)) == []


def test_no_host_namespaces_reports_all_shared_namespaces_in_one_finding():
    pod = _good("pod")
    pod["spec"].update(hostNetwork=True, hostPID=True, hostIPC=False)
    assert _violations("no-host-namespaces", pod) == [
        "spec shares the node's namespaces (hostNetwork, hostPID): remove hostNetwork, hostPID"
    ]


def test_no_host_path_refuses_a_host_path_volume_but_not_an_empty_dir():
    pod = _good("pod")
    pod["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    assert _violations("no-host-path", pod) == []
    pod["spec"]["volumes"].append({"name": "logs", "hostPath": {"path": "/var/log"}})
    (problem,) = _violations("no-host-path", pod)
    assert "'logs' (spec.volumes[1])" in problem


def test_run_as_non_root_accepts_the_pod_level_setting():
    assert _violations("run-as-non-root", _good("pod")) == []


def test_run_as_non_root_lets_the_container_setting_win_over_the_pod():
    assert _violations("run-as-non-root", _pod(runAsNonRoot=False))
    pod = _good("pod")
    del pod["spec"]["securityContext"]["runAsNonRoot"]
    assert _violations("run-as-non-root", pod)
    _container(pod)["securityContext"]["runAsNonRoot"] = True
    assert _violations("run-as-non-root", pod) == []


def test_read_only_root_filesystem_must_be_set_to_true():
    assert _violations("read-only-root-filesystem", _pod(readOnlyRootFilesystem=False))
    pod = _good("pod")
    del _container(pod)["securityContext"]["readOnlyRootFilesystem"]
    assert _violations("read-only-root-filesystem", pod)


def test_drop_all_capabilities_refuses_a_partial_drop_and_any_added_capability():
    assert _violations("drop-all-capabilities", _pod(capabilities={"drop": ["NET_RAW"]}))
    (problem,) = _violations("drop-all-capabilities", _pod(capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}))
    assert "adds ['NET_ADMIN']" in problem
    assert _violations("drop-all-capabilities", _pod(capabilities={"drop": ["ALL"], "add": []})) == []


def test_no_privilege_escalation_requires_an_explicit_false():
    assert _violations("no-privilege-escalation", _pod(allowPrivilegeEscalation=True))
    pod = _good("pod")
    del _container(pod)["securityContext"]["allowPrivilegeEscalation"]
    assert _violations("no-privilege-escalation", pod)  # Kubernetes' default is to allow it


def test_a_privileged_container_is_reported_once_by_no_privileged():
    pod = _pod(privileged=True)
    del _container(pod)["securityContext"]["allowPrivilegeEscalation"]
    assert _violations("no-privilege-escalation", pod) == []
    assert _violations("no-privileged", pod)


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("docker.io/library/nginx:1.27.0", True),
        (f"quay.io/prometheus/busybox@{DIGEST}", True),
        (f"ghcr.io/example/web:latest@{DIGEST}", True),  # the digest is what the node pulls
        ("docker.io/library/nginx", False),
        ("docker.io/library/nginx:latest", False),
        ("registry.example.com:5000/team/web", False),  # a port is not a tag
        ("registry.example.com:5000/team/web:2.1", True),
        ("ghcr.io/example/web@sha256:abc", False),  # not a full digest
        ("", False),
    ],
)
def test_image_pinning(image, pinned):
    assert image_is_pinned(image) is pinned
    pod = _good("pod")
    _container(pod)["image"] = image
    assert (_violations("image-pinned", pod) == []) is pinned


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("docker.io/library/nginx:1.27.0", True),
        ("mlops-platform/platform:0.1.0", True),  # the platform's own image, loaded into kind
        ("nginx:1.27.0", False),  # a short name: the node's configuration picks the registry
        ("docker.io.example.net/library/nginx:1.27.0", False),  # a prefix must end at a "/"
        ("registry.example.com/team/web:1.0", False),
    ],
)
def test_allowed_registries_with_the_default_list(image, allowed):
    pod = _good("pod")
    _container(pod)["image"] = image
    assert (_violations("allowed-registries", pod) == []) is allowed


def test_allowed_registries_come_from_the_blueprint_and_may_name_an_organisation():
    settings = PolicySettings(allowed_registries=["ghcr.io/my-org"])
    pod = _good("pod")
    _container(pod)["image"] = "ghcr.io/my-org/web:1.0"
    assert _violations("allowed-registries", pod, settings) == []
    _container(pod)["image"] = "ghcr.io/other-org/web:1.0"
    assert _violations("allowed-registries", pod, settings)


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_no_cluster_admin_binding_refuses_both_binding_kinds(kind):
    binding = Case(CASES_DIR / "bad" / "no-cluster-admin-binding--group.yaml", None).documents()[0]
    binding["kind"] = kind
    assert _violations("no-cluster-admin-binding", binding)
    binding["roleRef"]["name"] = "view"
    assert _violations("no-cluster-admin-binding", binding) == []


def test_no_wildcard_rbac_applies_to_tenant_roles_only():
    role = Case(CASES_DIR / "bad" / "no-wildcard-rbac--verbs.yaml", None).documents()[0]
    assert _violations("no-wildcard-rbac", role)  # no namespace: a team's own manifest
    role["metadata"]["namespace"] = "fraud"
    assert _violations("no-wildcard-rbac", role)
    role["metadata"]["namespace"] = "kube-system"
    assert _violations("no-wildcard-rbac", role) == []
    role["metadata"]["namespace"] = "fraud"
    role["kind"] = "ClusterRole"
    assert _violations("no-wildcard-rbac", role) == []


@pytest.mark.parametrize(
    ("namespace", "refused"), [("fraud", True), ("mlops-system", False), ("mlops-monitoring", False)]
)
def test_no_external_services_applies_to_tenant_namespaces(namespace, refused):
    service = Case(CASES_DIR / "bad" / "no-external-services--node-port.yaml", None).documents()[0]
    service["metadata"]["namespace"] = namespace
    assert bool(_violations("no-external-services", service)) is refused


def test_required_labels_checks_the_object_its_pod_template_and_a_cronjob_job_template():
    cronjob = _good("cronjob")
    assert _violations("required-labels", cronjob) == []
    del cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    del cronjob["spec"]["jobTemplate"]["metadata"]["labels"]["app.kubernetes.io/part-of"]
    assert [p.split(" lacks")[0] for p in _violations("required-labels", cronjob)] == [
        "spec.jobTemplate.spec.template.metadata.labels",
        "spec.jobTemplate.metadata.labels",
    ]


def _objects(*names: str) -> list[KubeObject]:
    return [
        from_manifest(document, name)
        for name in names
        for document in Case(CASES_DIR / name, None).documents(namespace="team-a")
    ]


@pytest.mark.parametrize(
    ("rule", "case"),
    [
        ("tenant-quota", "bad/tenant-quota--missing.yaml"),
        ("tenant-limit-range", "bad/tenant-limit-range--missing.yaml"),
        ("tenant-default-deny", "bad/tenant-default-deny--ingress-only.yaml"),
        ("pdb-for-replicated-serving", "bad/pdb-for-replicated-serving--no-pdb.yaml"),
    ],
)
def test_every_stack_rule_fails_its_bad_case_and_passes_the_good_ones(rule, case):
    (violation,) = STACK_RULES[rule](_objects(case), SETTINGS)
    assert violation[0].kind in ("Namespace", "Deployment")
    good = _objects("good/tenant-namespace.yaml", "good/model-server-with-pdb.yaml")
    assert STACK_RULES[rule](good, SETTINGS) == []


def test_namespaces_without_the_tenant_label_are_not_tenant_namespaces():
    objects = _objects("bad/tenant-quota--missing.yaml")
    namespace = next(obj for obj in objects if obj.kind == "Namespace")
    unlabelled = copy.deepcopy(dict(namespace.body))
    del unlabelled["metadata"]["labels"]["platform.mlops/tenant"]
    objects = [from_manifest(unlabelled) if obj is namespace else obj for obj in objects]
    assert STACK_RULES["tenant-quota"](objects, SETTINGS) == []


def test_a_pdb_without_a_selector_covers_no_pods_and_an_empty_one_covers_all():
    objects = _objects("good/model-server-with-pdb.yaml")
    budget = next(obj for obj in objects if obj.kind == "PodDisruptionBudget")
    for selector, covered in (
        (None, False),
        ({}, True),
        ({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, False),
    ):
        body = copy.deepcopy(dict(budget.body))
        if selector is None:
            del body["spec"]["selector"]
        else:
            body["spec"]["selector"] = selector
        changed = [from_manifest(body) if obj is budget else obj for obj in objects]
        assert (STACK_RULES["pdb-for-replicated-serving"](changed, SETTINGS) == []) is covered


def test_one_replica_model_servers_need_no_pdb():
    objects = _objects("bad/pdb-for-replicated-serving--no-pdb.yaml")
    body = copy.deepcopy(dict(objects[0].body))
    body["spec"]["replicas"] = 1
    assert STACK_RULES["pdb-for-replicated-serving"]([from_manifest(body)], SETTINGS) == []


MALFORMED = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "labels": ["a"]}, "spec": {"containers": "web"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [None, 3, {"image": 7}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": None},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"}, "spec": {"jobTemplate": []}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": "ClusterIP"},
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "x"},
        "rules": [None, {"verbs": "*"}],
    },
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"}, "spec": {"selector": 1}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"platform.mlops/tenant": "x"}}},
]


@pytest.mark.parametrize("manifest", MALFORMED, ids=lambda m: f"{m['kind']}")
def test_no_rule_crashes_on_a_malformed_object(manifest):
    obj = from_manifest(manifest)
    for check in RESOURCE_RULES.values():
        check(obj, SETTINGS)
    for check in STACK_RULES.values():
        check([obj], SETTINGS)


def test_pulumi_type_tokens_become_api_version_and_kind():
    assert from_pulumi("kubernetes:core/v1:Pod", {}).api_version == "v1"
    deployment = from_pulumi("kubernetes:apps/v1:Deployment", {"metadata": {"name": "x"}}, "urn:x")
    assert (deployment.api_version, deployment.kind, deployment.source) == ("apps/v1", "Deployment", "urn:x")
    binding = from_pulumi("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", {})
    assert binding.api_version == "rbac.authorization.k8s.io/v1"
    assert from_pulumi("pulumi:providers:kubernetes", {}) is None
    assert from_pulumi("mlops-platform:platform:Tenant", {}) is None
    assert from_pulumi("kubernetes:yaml/v2:ConfigGroup", {}) is None  # components that create objects
    assert from_pulumi("kubernetes:helm.sh/v3:Release", {}) is None


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ([1, 2], "not a Kubernetes object (a list, not a mapping)"),
        ({"kind": "Pod", "metadata": {}}, "apiVersion missing"),
        ({"apiVersion": "v1", "metadata": {}}, "kind missing"),
        ({"apiVersion": "v1", "kind": "Pod"}, "Pod has no metadata mapping"),
    ],
)
def test_a_document_that_is_not_a_kubernetes_object_says_what_it_lacks(document, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        from_manifest(document)
