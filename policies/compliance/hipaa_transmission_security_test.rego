package compliance_test.hipaa_transmission_security

import data.compliance.controls.hipaa_transmission_security as control
import data.compliance.fixtures as f

test_https_everywhere_passes if {
	count(control.findings) == 0 with input as f.good
	"encrypted-in-transit" in f.checks(control.evidence) with input as f.good
}

test_plain_http_to_the_registry_is_a_finding if {
	server := f.model_server("clinic", "plain", "http://mlflow.clinic.svc:5000")
	"encrypted-in-transit" in f.checks(control.findings) with input as f.with_manifest(f.good, server)
}

test_postgres_without_required_tls_is_a_finding if {
	server := f.model_server("clinic", "db", "postgresql://u:p@db:5432/x")
	"encrypted-in-transit" in f.checks(control.findings) with input as f.with_manifest(f.good, server)
}

test_postgres_with_verified_tls_passes if {
	server := f.model_server("clinic", "db", "postgresql://u:p@db:5432/x?sslmode=verify-full")
	count(control.findings) == 0 with input as f.with_manifest(f.good, server)
}

test_metrics_pushed_to_monitoring_are_not_phi if {
	# every fixture model server pushes to http://pushgateway.mlops-monitoring.svc: no finding
	count(control.findings) == 0 with input as f.good
}

test_another_tenants_plaintext_is_not_this_controls_concern if {
	server := f.model_server("shop", "plain", "http://mlflow.mlops-system.svc:5000")
	count(control.findings) == 0 with input as f.with_manifest(f.good, server)
}
