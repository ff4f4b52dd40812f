package compliance_test.gdpr_security_of_processing

import data.compliance.controls.gdpr_security_of_processing as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding if {
	count(control.findings) == 0 with input as f.good
	{"isolated", "restorable"} == {c | some c in f.checks(control.evidence); c in {"isolated", "restorable"}} with input as f.good
}

test_a_personal_data_namespace_without_default_deny_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/manifests/2"}]) # shop's default-deny-all
	"isolated" in f.checks(control.findings) with input as world
}

test_a_registry_without_backups_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/manifests/11"}]) # the shared registry's backup
	some finding in control.findings with input as world
	finding.check == "restorable"
	finding.object == "tenant shop"
}

test_plaintext_personal_data_is_a_finding if {
	server := f.model_server("shop", "plain", "http://mlflow.mlops-system.svc:5000")
	"encrypted-in-transit" in f.checks(control.findings) with input as f.with_manifest(f.good, server)
}
