# HIPAA §164.312(a)(1), access control: only the people and programs granted access reach electronic
# protected health information. Applies to tenants whose data declares phi: true.
package compliance.controls.hipaa_access_control

import data.compliance.lib

control := {
	"id": "hipaa-164.312-a",
	"framework": "hipaa",
	"reference": "§164.312(a)(1)",
	"title": "Access control",
}

scope := "tenants whose data declares phi: true"

applicable if count(lib.phi_tenants) > 0

# PHI models and their training records are in a registry (and a database) of the tenant's own.
findings contains {
	"check": "phi-registry-dedicated",
	"object": sprintf("tenant %s", [name]),
	"gap": "models trained on PHI share the registry, its database and its backups with other tenants",
	"fix": sprintf("set tenants[%d].registry: dedicated", [lib.tenant_index(name)]),
} if {
	some name in lib.phi_tenants
	lib.tenant(name).registry != "dedicated"
}

evidence contains {
	"check": "phi-registry-dedicated",
	"object": sprintf("Deployment %s/mlflow", [name]),
	"detail": "a registry of its own, in the tenant's namespace, with its own users and database",
} if {
	some name in lib.phi_tenants
	lib.tenant(name).registry == "dedicated"
}

# Nothing outside the namespace reaches it except the paths the platform opens (gateway, scraping).
open_peer(peer) if peer.namespaceSelector == {}

open_peer(peer) if peer.ipBlock

findings contains {
	"check": "phi-namespace-closed",
	"object": lib.named(policy),
	"gap": "admits pods from every namespace (or an IP range) into a namespace holding PHI",
	"fix": "name the namespace and pods that need the path (a namespaceSelector with matchLabels and a podSelector)",
} if {
	some name in lib.phi_tenants
	some policy in lib.objects("NetworkPolicy")
	policy.metadata.namespace == name
	some rule in policy.spec.ingress
	some peer in rule.from
	open_peer(peer)
}

findings contains {
	"check": "phi-namespace-closed",
	"object": sprintf("Namespace %s", [name]),
	"gap": "no default-deny NetworkPolicy in a namespace holding PHI",
	"fix": "deploy the tenant with the platform's Tenant component (default-deny-all)",
} if {
	some name in lib.phi_tenants
	not lib.default_deny(name)
}

evidence contains {
	"check": "phi-namespace-closed",
	"object": sprintf("Namespace %s", [name]),
	"detail": sprintf("default deny; %d NetworkPolicies, each naming the peers it admits", [count(policies)]),
} if {
	some name in lib.phi_tenants
	lib.default_deny(name)
	policies := [p | some p in lib.objects("NetworkPolicy"); p.metadata.namespace == name]
}

# Pods in it run under the restricted Pod Security Standard.
findings contains {
	"check": "phi-pods-restricted",
	"object": sprintf("Namespace %s", [name]),
	"gap": "the namespace does not enforce the restricted Pod Security Standard",
	"fix": "label it pod-security.kubernetes.io/enforce: restricted",
} if {
	some name in lib.phi_tenants
	not restricted(name)
}

restricted(name) if {
	some ns in lib.objects("Namespace")
	ns.metadata.name == name
	ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
}

evidence contains {
	"check": "phi-pods-restricted",
	"object": sprintf("Namespace %s", [name]),
	"detail": "pod-security.kubernetes.io/enforce: restricted",
} if {
	some name in lib.phi_tenants
	restricted(name)
}
