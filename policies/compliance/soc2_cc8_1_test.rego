package compliance_test.soc2_cc8_1

import data.compliance.controls.soc2_cc8_1 as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding_and_nothing_unverified if {
	count(control.findings) == 0 with input as f.good
	count(control.unverified) == 0 with input as f.good
}

test_an_advisory_guardrail_is_a_finding if {
	world := json.patch(f.good, [{"op": "add", "path": "/blueprint/platform/policy/enforcement/required-labels", "value": "advisory"}])
	"guardrails-mandatory" in f.checks(control.findings) with input as world
}

test_an_advisory_default_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/platform/policy/defaultEnforcement", "value": "advisory"}])
	"guardrails-mandatory" in f.checks(control.findings) with input as world
}

test_mandatory_guardrails_pass if {
	"guardrails-mandatory" in f.checks(control.evidence) with input as f.good
}

test_no_approval_rule_for_the_champion_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/promotion/rules/0/aliases", "value": ["challenger"]}])
	"champion-needs-approval" in f.checks(control.findings) with input as world
}

test_an_approval_rule_for_every_alias_counts if {
	world := json.patch(f.good, [{"op": "remove", "path": "/promotion/rules/0/aliases"}])
	not "champion-needs-approval" in f.checks(control.findings) with input as world
}

test_a_broken_audit_chain_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/audit/intact", "value": false}, {"op": "add", "path": "/audit/error", "value": "line 2: hash mismatch"}])
	"audit-log-intact" in f.checks(control.findings) with input as world
}

test_an_unread_audit_log_is_unverified_not_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/audit", "value": {"read": false, "note": "no --audit-log"}}])
	"audit-log-intact" in f.checks(control.unverified) with input as world
	not "audit-log-intact" in f.checks(control.findings) with input as world
}

test_an_alias_moved_around_the_gate_is_a_finding if {
	world := json.patch(f.good, [{"op": "add", "path": "/registry/versions/-", "value": {"model": "scorer", "version": "9", "tags": {}, "aliases": ["challenger"]}}])
	"served-versions-passed-the-gate" in f.checks(control.findings) with input as world
}

test_without_the_audit_log_the_decision_tags_are_the_evidence if {
	tags := {"platform.mlops/decision": "pass", "platform.mlops/decision-alias": "challenger", "platform.mlops/decision-audit": "0123456789abcdef"}
	world := json.patch(f.good, [
		{"op": "replace", "path": "/audit", "value": {"read": false, "note": "in the cluster"}},
		{"op": "replace", "path": "/registry/versions", "value": [{"model": "scorer", "version": "9", "tags": tags, "aliases": ["challenger"]}]},
	])
	not "served-versions-passed-the-gate" in f.checks(control.findings) with input as world
}

test_an_unread_registry_is_unverified if {
	world := json.patch(f.good, [{"op": "replace", "path": "/registry", "value": {"read": false, "note": "no --registry"}}])
	"served-versions-passed-the-gate" in f.checks(control.unverified) with input as world
}
