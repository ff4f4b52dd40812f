package compliance_test.hipaa_audit_controls

import data.compliance.controls.hipaa_audit_controls as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding if {
	count(control.findings) == 0 with input as f.good
	count(control.unverified) == 0 with input as f.good
}

test_a_broken_audit_chain_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/audit/intact", "value": false}, {"op": "add", "path": "/audit/error", "value": "line 1"}])
	"audit-log-intact" in f.checks(control.findings) with input as world
}

test_an_unread_audit_log_is_unverified if {
	world := json.patch(f.good, [{"op": "replace", "path": "/audit", "value": {"read": false, "note": "none"}}])
	"audit-log-intact" in f.checks(control.unverified) with input as world
}

test_a_phi_model_serving_without_a_recorded_decision_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/audit/entries", "value": []}])
	some finding in control.findings with input as world
	finding.check == "phi-decisions-recorded"
	finding.object == "readmission version 2"
}

test_another_tenants_model_is_not_this_controls_concern if {
	world := json.patch(f.good, [{"op": "remove", "path": "/audit/entries/0"}]) # scorer's decision
	not "phi-decisions-recorded" in f.checks(control.findings) with input as world
}

test_a_phi_registry_without_backups_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/manifests/12"}]) # clinic's mlflow-db-backup
	"phi-registry-backed-up" in f.checks(control.findings) with input as world
}

test_backups_pass if {
	"phi-registry-backed-up" in f.checks(control.evidence) with input as f.good
}
