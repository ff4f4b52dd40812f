# GDPR Art. 32, security of processing: measures appropriate to the risk, among them confidentiality
# (isolation, access), resilience and the ability to restore (backups), and encryption.
package compliance.controls.gdpr_security_of_processing

import data.compliance.lib

control := {"id": "gdpr-art32", "framework": "gdpr", "reference": "Art. 32", "title": "Security of processing"}

scope := "tenants holding personal data: a pii feature view, or phi: true"

applicable if count(lib.pii_tenants) > 0

findings contains {
	"check": "isolated",
	"object": sprintf("Namespace %s", [name]),
	"gap": "no default-deny NetworkPolicy where personal data is processed",
	"fix": "deploy the tenant with the platform's Tenant component (default-deny-all)",
} if {
	some name in lib.pii_tenants
	not lib.default_deny(name)
}

evidence contains {
	"check": "isolated",
	"object": lib.named(lib.default_deny(name)),
	"detail": "default deny: only the paths its NetworkPolicies name are open",
} if {
	some name in lib.pii_tenants
	lib.default_deny(name)
}

evidence contains {
	"check": "isolated",
	"object": sprintf("feature store of tenant %s", [name]),
	"detail": "its database is closed to every other role (services/features/feature-store.sql revokes CONNECT)",
} if {
	some name in lib.pii_tenants
	lib.tenant(name).features
}

# The ability to restore: the registry holding the tenant's models is backed up.
registry_namespace(name) := name if lib.tenant(name).registry == "dedicated"

registry_namespace(name) := "mlops-system" if lib.tenant(name).registry != "dedicated"

findings contains {
	"check": "restorable",
	"object": sprintf("tenant %s", [name]),
	"gap": "the registry holding the tenant's models has no backup CronJob",
	"fix": "deploy the registry with the platform's ModelRegistry component (platform.registry.backup)",
} if {
	some name in lib.pii_tenants
	not backed_up(registry_namespace(name))
}

backed_up(namespace) := cronjob if {
	some cronjob in lib.objects("CronJob")
	cronjob.metadata.namespace == namespace
	cronjob.metadata.name == "mlflow-db-backup"
}

evidence contains {
	"check": "restorable",
	"object": lib.named(backed_up(registry_namespace(name))),
	"detail": sprintf("schedule %q; restore with mlplat registry restore (docs/registry-dr.md)", [backed_up(registry_namespace(name)).spec.schedule]),
} if {
	some name in lib.pii_tenants
	backed_up(registry_namespace(name))
}

findings contains {
	"check": "encrypted-in-transit",
	"object": sprintf("%s, container %s", [lib.named(o), container]),
	"gap": sprintf("%s=%s: personal data crosses the network unencrypted", [name, value]),
	"fix": "TLS on MLflow and PostgreSQL (sslmode=verify-full), or a service mesh with mutual TLS",
} if {
	some tenant in lib.pii_tenants
	some [o, container, name, value] in lib.connections(tenant)
	lib.plaintext(value)
}
