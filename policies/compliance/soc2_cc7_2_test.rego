package compliance_test.soc2_cc7_2

import data.compliance.controls.soc2_cc7_2 as control
import data.compliance.fixtures as f

test_the_good_world_has_no_finding if {
	count(control.findings) == 0 with input as f.good
}

test_a_missing_alert_is_a_finding if {
	rules := {"kind": "ConfigMap", "metadata": {"name": "prometheus-rules", "namespace": "mlops-monitoring"}, "data": {"rules.yml": yaml.marshal({"groups": [{"name": "g", "rules": [{"alert": "ModelServerDown"}]}]})}}
	world := f.with_manifest(f.without(f.good, "ConfigMap", "prometheus-rules"), rules)
	some finding in control.findings with input as world
	finding.check == "alert-rules"
	contains(finding.gap, "RegistryBackupMissed")
}

test_the_compliance_alert_is_required_only_with_a_scheduled_check if {
	world := json.patch(f.good, [{"op": "remove", "path": "/blueprint/platform/compliance"}])
	not "ComplianceControlFailing" in control.required_alerts with input as world
	"ComplianceControlFailing" in control.required_alerts with input as f.good
}

test_an_unscraped_model_server_is_a_finding if {
	server := json.patch(f.model_server("shop", "quiet", "https://x"), [{"op": "replace", "path": "/spec/template/metadata/annotations", "value": {}}])
	"model-servers-scraped" in f.checks(control.findings) with input as f.with_manifest(f.good, server)
}

test_scraped_model_servers_pass if {
	not "model-servers-scraped" in f.checks(control.findings) with input as f.good
}

test_a_default_receiver_without_target_is_a_finding if {
	am := {"kind": "ConfigMap", "metadata": {"name": "alertmanager-config", "namespace": "mlops-monitoring"}, "data": {"alertmanager.yml": yaml.marshal({"route": {"receiver": "default"}, "receivers": [{"name": "default"}]})}}
	world := f.with_manifest(f.without(f.good, "ConfigMap", "alertmanager-config"), am)
	"alerts-reach-a-person" in f.checks(control.findings) with input as world
}

test_no_alertmanager_is_a_finding if {
	"alerts-reach-a-person" in f.checks(control.findings) with input as f.without(f.good, "ConfigMap", "alertmanager-config")
}

test_a_receiver_with_a_target_passes if {
	not "alerts-reach-a-person" in f.checks(control.findings) with input as f.good
}

test_no_scheduled_check_is_a_finding if {
	"compliance-checked-on-schedule" in f.checks(control.findings) with input as f.without(f.good, "CronJob", "compliance-check")
}

test_the_scheduled_check_is_evidence if {
	"compliance-checked-on-schedule" in f.checks(control.evidence) with input as f.good
}
