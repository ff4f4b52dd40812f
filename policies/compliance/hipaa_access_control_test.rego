package compliance_test.hipaa_access_control

import data.compliance.controls.hipaa_access_control as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding if {
	control.applicable with input as f.good
	count(control.findings) == 0 with input as f.good
}

test_without_phi_nothing_is_in_scope if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/1/data/phi", "value": false}])
	not control.applicable with input as world
}

test_phi_on_the_shared_registry_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/1/registry", "value": "shared"}])
	"phi-registry-dedicated" in f.checks(control.findings) with input as world
}

test_a_dedicated_registry_passes if {
	"phi-registry-dedicated" in f.checks(control.evidence) with input as f.good
}

test_an_ingress_from_every_namespace_is_a_finding if {
	open := json.patch(f.allow_gateway("clinic"), [
		{"op": "replace", "path": "/metadata/name", "value": "allow-all"},
		{"op": "replace", "path": "/spec/ingress/0/from/0", "value": {"namespaceSelector": {}}},
	])
	"phi-namespace-closed" in f.checks(control.findings) with input as f.with_manifest(f.good, open)
}

test_no_default_deny_in_the_phi_namespace_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/manifests/3"}]) # clinic's default-deny-all
	"phi-namespace-closed" in f.checks(control.findings) with input as world
}

test_named_peers_pass if {
	not "phi-namespace-closed" in f.checks(control.findings) with input as f.good
}

test_a_namespace_without_the_restricted_standard_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/manifests/1/metadata/labels", "value": {}}])
	"phi-pods-restricted" in f.checks(control.findings) with input as world
}

test_the_restricted_standard_passes if {
	"phi-pods-restricted" in f.checks(control.evidence) with input as f.good
}

test_an_ingress_from_an_ip_range_is_a_finding if {
	open := json.patch(f.allow_gateway("clinic"), [
		{"op": "replace", "path": "/metadata/name", "value": "allow-range"},
		{"op": "replace", "path": "/spec/ingress/0/from/0", "value": {"ipBlock": {"cidr": "0.0.0.0/0"}}},
	])
	"phi-namespace-closed" in f.checks(control.findings) with input as f.with_manifest(f.good, open)
}
