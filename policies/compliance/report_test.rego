package compliance_test.report

import data.compliance.fixtures as f
import data.compliance.report

status(id) := s if {
	some c in report.results
	c.control.id == id
	s := c.status
}

test_every_control_passes_in_the_good_world if {
	every c in report.results { c.status == "pass" } with input as f.good
	count(report.results) == 10 with input as f.good
}

test_the_framework_selects_its_controls if {
	{c.control.framework | some c in report.results} == {"hipaa"} with input as object.union(f.good, {"framework": "hipaa"})
	count(report.results) == 4 with input as object.union(f.good, {"framework": "gdpr"})
}

test_a_finding_fails_its_control if {
	status("soc2-cc7.2") == "fail" with input as f.without(f.good, "CronJob", "compliance-check")
}

accept(until) := json.patch(f.without(f.good, "CronJob", "compliance-check"), [{
	"op": "replace", "path": "/blueprint/platform/compliance/acceptedGaps",
	"value": [{"control": "soc2-cc7.2", "check": "compliance-checked-on-schedule", "owner": "ops", "until": until, "reason": "because we said so, for now"}],
}])

test_an_accepted_gap_is_accepted_until_its_date if {
	status("soc2-cc7.2") == "accepted" with input as accept("2026-12-05")
}

test_an_acceptance_that_ended_fails_again if {
	status("soc2-cc7.2") == "fail" with input as accept("2026-12-04")
}

test_missing_evidence_is_unverified if {
	status("soc2-cc8.1") == "unverified" with input as json.patch(f.good, [{"op": "replace", "path": "/registry", "value": {"read": false, "note": "none"}}])
}

test_nothing_in_scope_is_not_applicable_and_reports_nothing if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/1/data/phi", "value": false}])
	status("hipaa-164.312-a") == "not-applicable" with input as world
	some c in report.results with input as world
	c.control.id == "hipaa-164.312-a"
	count(c.evidence) == 0
}

test_the_result_names_the_blueprint_the_framework_and_the_source if {
	r := report.result with input as f.good
	[r.blueprint, r.framework, r.source, r.generated, count(r.controls)] == ["test", "all", "rendered", "2026-12-05T12:00:00Z", 10]
}

test_an_acceptance_covers_its_check_only if {
	silent := {"kind": "ConfigMap", "metadata": {"name": "alertmanager-config"}, "data": {"alertmanager.yml": "route: {receiver: nobody}\nreceivers: [{name: nobody}]\n"}}
	world := f.with_manifest(f.without(accept("2027-01-01"), "ConfigMap", "alertmanager-config"), silent)
	status("soc2-cc7.2") == "fail" with input as world
}
