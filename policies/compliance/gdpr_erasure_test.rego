package compliance_test.gdpr_erasure

import data.compliance.controls.gdpr_erasure as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding if {
	count(control.findings) == 0 with input as f.good
}

test_the_erasure_path_is_evidence if {
	some item in control.evidence with input as f.good
	item.detail == "mlplat gdpr erase --tenant shop --entity customer_id=<value>"
}

test_personal_data_without_a_subject_entity_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/0/features/entities/0/subject", "value": false}])
	"erasure-path" in f.checks(control.findings) with input as world
}

test_phi_held_outside_any_erasable_view_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/tenants/1/features"}])
	some finding in control.findings with input as world
	finding.check == "erasure-path"
	finding.object == "tenant clinic"
}

test_a_marked_version_still_serving_is_a_finding if {
	world := json.patch(f.good, [{"op": "add", "path": "/registry/versions/0/tags/platform.mlops~1retrain-required", "value": "erasure 1a2b3c"}])
	"erased-data-not-served" in f.checks(control.findings) with input as world
}

test_a_marked_version_without_an_alias_passes if {
	world := json.patch(f.good, [{"op": "add", "path": "/registry/versions/-", "value": {"model": "scorer", "version": "3", "tags": {"platform.mlops/retrain-required": "erasure 1a2b3c"}, "aliases": []}}])
	not "erased-data-not-served" in f.checks(control.findings) with input as world
	"erased-data-not-served" in f.checks(control.evidence) with input as world
}

test_an_unread_registry_is_unverified if {
	world := json.patch(f.good, [{"op": "replace", "path": "/registry", "value": {"read": false, "note": "none"}}])
	"erased-data-not-served" in f.checks(control.unverified) with input as world
}

test_erasures_in_the_audit_log_are_counted if {
	world := json.patch(f.good, [{"op": "add", "path": "/audit/entries/-", "value": {"event": "erasure", "subject": "ab"}}])
	some item in control.evidence with input as world
	item.detail == "1 erasures in the audit log"
}
