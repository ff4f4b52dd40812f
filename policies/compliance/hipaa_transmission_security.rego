# HIPAA §164.312(e)(1), transmission security: PHI is protected against interception while it moves.
# Read from the pods' own configuration: every URL a PHI tenant's workloads connect to, and the feature
# store's database connection.
package compliance.controls.hipaa_transmission_security

import data.compliance.lib

control := {
	"id": "hipaa-164.312-e",
	"framework": "hipaa",
	"reference": "§164.312(e)(1)",
	"title": "Transmission security",
}

scope := "tenants whose data declares phi: true"

applicable if count(lib.phi_tenants) > 0

findings contains {
	"check": "encrypted-in-transit",
	"object": sprintf("%s, container %s", [lib.named(o), container]),
	"gap": sprintf("%s=%s: PHI crosses the network unencrypted", [name, value]),
	"fix": "terminate TLS at the server (MLflow behind HTTPS, PostgreSQL with ssl=on and sslmode=verify-full), or run a service mesh with mutual TLS",
} if {
	some tenant in lib.phi_tenants
	some [o, container, name, value] in lib.connections(tenant)
	lib.plaintext(value)
}

evidence contains {
	"check": "encrypted-in-transit",
	"object": sprintf("Namespace %s", [tenant]),
	"detail": sprintf("%d connection URLs in its pods, none in plaintext", [count(urls)]),
} if {
	some tenant in lib.phi_tenants
	urls := [v | some [_, _, _, v] in lib.connections(tenant)]
	every url in urls { not lib.plaintext(url) }
}
