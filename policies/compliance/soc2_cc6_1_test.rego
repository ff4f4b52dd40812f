package compliance_test.soc2_cc6_1

import data.compliance.controls.soc2_cc6_1 as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding if {
	count(control.findings) == 0 with input as f.good
}

test_a_tenant_without_default_deny_is_a_finding if {
	"tenant-default-deny" in f.checks(control.findings) with input as f.without(f.good, "NetworkPolicy", "default-deny-all")
}

test_default_deny_is_evidence if {
	"tenant-default-deny" in f.checks(control.evidence) with input as f.good
}

test_a_cluster_admin_binding_is_a_finding if {
	admin := object.union(f.binding("shop"), {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}})
	"no-cluster-admin" in f.checks(control.findings) with input as f.with_manifest(f.good, admin)
}

test_no_cluster_admin_binding_passes if {
	not "no-cluster-admin" in f.checks(control.findings) with input as f.good
}

test_a_wildcard_tenant_role_is_a_finding if {
	wild := object.union(f.role("shop"), {"metadata": {"name": "wild", "namespace": "shop"}, "rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}]})
	"no-wildcard-role" in f.checks(control.findings) with input as f.with_manifest(f.good, wild)
}

test_a_wildcard_role_outside_tenants_is_not_this_controls_concern if {
	wild := object.union(f.role("kube-system"), {"rules": [{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]})
	not "no-wildcard-role" in f.checks(control.findings) with input as f.with_manifest(f.good, wild)
}

test_admission_not_denying_the_access_rules_is_a_finding if {
	world := f.without(f.good, "ValidatingAdmissionPolicyBinding", "no-wildcard-rbac.platform.mlops")
	"admission-enforces-access-rules" in f.checks(control.findings) with input as world
}

test_admission_denying_the_access_rules_passes if {
	not "admission-enforces-access-rules" in f.checks(control.findings) with input as f.good
}

test_a_grant_on_another_teams_model_is_a_finding if {
	plan := f.access_plan("mlops-system", [["scorer", "shop"], ["other", "clinic"]], [
		{"user": "shop", "resource": "registered_model", "name": "other", "permission": "EDIT"},
	])
	world := f.with_manifest(f.without(f.good, "ConfigMap", "registry-access"), plan)
	"registry-grants-own-models-only" in f.checks(control.findings) with input as world
}

test_a_wildcard_grant_to_a_team_is_a_finding if {
	plan := f.access_plan("mlops-system", [["scorer", "shop"]], [
		{"user": "shop.serving", "resource": "registered_model", "name": "*", "permission": "READ"},
	])
	world := f.with_manifest(f.without(f.good, "ConfigMap", "registry-access"), plan)
	"registry-grants-own-models-only" in f.checks(control.findings) with input as world
}

test_grants_on_own_models_pass if {
	not "registry-grants-own-models-only" in f.checks(control.findings) with input as f.good
	"registry-grants-own-models-only" in f.checks(control.evidence) with input as f.good
}
