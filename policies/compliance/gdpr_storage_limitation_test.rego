package compliance_test.gdpr_storage_limitation

import data.compliance.controls.gdpr_storage_limitation as control
import data.compliance.fixtures as f

test_declared_retentions_pass if {
	count(control.findings) == 0 with input as f.good
	"pii-retention-declared" in f.checks(control.evidence) with input as f.good
}

test_without_personal_data_nothing_is_in_scope if {
	world := json.patch(f.good, [
		{"op": "replace", "path": "/blueprint/tenants/0/features/featureViews/0/classification", "value": {}},
		{"op": "replace", "path": "/blueprint/tenants/1/features/featureViews/0/classification", "value": {}},
	])
	not control.applicable with input as world
}

test_personal_data_without_retention_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/tenants/0/features/featureViews/0/classification/retention"}])
	some finding in control.findings with input as world
	finding.check == "pii-retention-declared"
	finding.fix == "set tenants[0].features.featureViews[0].classification.retention (e.g. 400d): how long a row is kept after its event time"
}

test_a_ttl_longer_than_the_retention_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/1/features/featureViews/0/ttl", "value": "5w"}])
	"ttl-within-retention" in f.checks(control.findings) with input as world
}

test_a_ttl_within_the_retention_passes if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/1/features/featureViews/0/ttl", "value": "720h"}])
	not "ttl-within-retention" in f.checks(control.findings) with input as world
}

test_the_backup_tail_is_stated if {
	"backup-tail" in f.checks(control.evidence) with input as f.good
}
