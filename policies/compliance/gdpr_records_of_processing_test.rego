package compliance_test.gdpr_records_of_processing

import data.compliance.controls.gdpr_records_of_processing as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding_and_a_record_per_personal_view if {
	count(control.findings) == 0 with input as f.good
	{[r.tenant, r.activity, r.purpose] | some r in control.record} == {["shop", "customers", "fraud-prevention"], ["clinic", "visits", "care"]} with input as f.good
}

test_the_record_names_the_models_reading_the_view if {
	some r in control.record with input as f.good
	r.activity == "customers"
	r.recipients == ["scorer"]
}

test_personal_data_without_purposes_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/0/data/purposes", "value": []}])
	"purposes-declared" in f.checks(control.findings) with input as world
}

test_a_model_serving_personal_data_in_a_tenant_without_purpose_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/tenants/0/data"}])
	some finding in control.findings with input as world
	finding.check == "served-with-a-purpose"
	finding.object == "tenant shop, model scorer"
}

test_a_view_without_purpose_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/tenants/0/features/featureViews/0/classification/purpose"}])
	"view-purpose" in f.checks(control.findings) with input as world
}

test_a_view_purpose_the_tenant_does_not_declare_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/0/features/featureViews/0/classification/purpose", "value": "marketing"}])
	some finding in control.findings with input as world
	finding.check == "view-purpose"
	contains(finding.gap, "\"marketing\" is not one the tenant declares")
}

test_no_residency_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/tenants/0/data/residency"}])
	"residency" in f.checks(control.findings) with input as world
}

test_a_residency_other_than_the_platforms_is_a_finding if {
	world := json.patch(f.good, [{"op": "replace", "path": "/blueprint/tenants/1/data/residency", "value": "us"}])
	some finding in control.findings with input as world
	finding.check == "residency"
	finding.object == "tenant clinic"
}

test_a_platform_without_residency_is_a_finding if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/platform/compliance"}])
	some finding in control.findings with input as world
	finding.object == "platform"
}

test_phi_held_outside_the_platform_is_in_the_record if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/tenants/1/features"}])
	some r in control.record with input as world
	r.tenant == "clinic"
	r.activity == "model training and serving"
}
