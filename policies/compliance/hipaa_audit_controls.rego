# HIPAA §164.312(b), audit controls: activity on systems holding PHI is recorded and can be examined.
# Here: every decision about a PHI tenant's models is in the hash-chained audit log (or its decision
# tags), and the PHI registry's database is backed up so the record survives a lost volume.
package compliance.controls.hipaa_audit_controls

import data.compliance.lib

control := {"id": "hipaa-164.312-b", "framework": "hipaa", "reference": "§164.312(b)", "title": "Audit controls"}

scope := "tenants whose data declares phi: true"

applicable if count(lib.phi_tenants) > 0

phi_models contains model.name if {
	some name in lib.phi_tenants
	some model in lib.tenant(name).models
}

findings contains {
	"check": "audit-log-intact",
	"object": input.audit.path,
	"gap": sprintf("the audit log's hash chain is broken: %s", [input.audit.error]),
	"fix": "restore the log from its backup and examine who changed it",
} if {
	lib.audit_read
	not input.audit.intact
}

unverified contains {
	"check": "audit-log-intact",
	"object": "promotion audit log",
	"missing": sprintf("the audit log was not read (%s)", [input.audit.note]),
	"fix": "run the report with --audit-log",
} if {
	not lib.audit_read
}

evidence contains {
	"check": "audit-log-intact",
	"object": input.audit.path,
	"detail": sprintf("%d entries, hash chain verified", [count(input.audit.entries)]),
} if {
	lib.audit_read
	input.audit.intact
}

# Every served PHI model version has its gate decision on record.
findings contains {
	"check": "phi-decisions-recorded",
	"object": sprintf("%s version %s", [version.model, version.version]),
	"gap": sprintf("serves @%s with no recorded gate decision", [alias]),
	"fix": sprintf("mlplat promote %s %s --to %s", [version.model, version.version, alias]),
} if {
	some version in lib.versions
	version.model in phi_models
	some alias in version.aliases
	not lib.passed_gate(version, alias)
}

evidence contains {
	"check": "phi-decisions-recorded",
	"object": sprintf("%s version %s @%s", [version.model, version.version, alias]),
	"detail": lib.passed_gate(version, alias),
} if {
	some version in lib.versions
	version.model in phi_models
	some alias in version.aliases
	lib.passed_gate(version, alias)
}

unverified contains {
	"check": "phi-decisions-recorded",
	"object": "model registry",
	"missing": "the registry was not read",
	"fix": "run the report with --registry",
} if {
	not lib.registry_read
}

# The PHI registry's database is backed up on a schedule.
findings contains {
	"check": "phi-registry-backed-up",
	"object": sprintf("tenant %s", [name]),
	"gap": "no backup CronJob for the registry holding the tenant's model records",
	"fix": "give the tenant registry: dedicated; its ModelRegistry schedules the backups of platform.registry.backup",
} if {
	some name in lib.phi_tenants
	not backup(name)
}

backup(namespace) := cronjob if {
	some cronjob in lib.objects("CronJob")
	cronjob.metadata.namespace == namespace
	cronjob.metadata.name == "mlflow-db-backup"
}

evidence contains {
	"check": "phi-registry-backed-up",
	"object": lib.named(backup(name)),
	"detail": sprintf("schedule %q", [backup(name).spec.schedule]),
} if {
	some name in lib.phi_tenants
	backup(name)
}
