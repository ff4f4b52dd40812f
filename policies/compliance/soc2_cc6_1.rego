# SOC 2 CC6.1, logical access security: each team reaches only its own namespace, its own models and
# its own network paths, and nobody holds cluster-wide power through the platform's objects.
package compliance.controls.soc2_cc6_1

import data.compliance.lib

control := {"id": "soc2-cc6.1", "framework": "soc2", "reference": "CC6.1", "title": "Logical access security"}

scope := "every tenant, the registry and the admission gate"

applicable := true

# Every tenant namespace denies all traffic unless a NetworkPolicy allows a path.
findings contains {
	"check": "tenant-default-deny",
	"object": sprintf("Namespace %s", [tenant.name]),
	"gap": "no default-deny NetworkPolicy: every pod in the cluster may reach the tenant's pods",
	"fix": "deploy the tenant with the platform's Tenant component (it creates default-deny-all), or add one",
} if {
	some tenant in lib.tenants
	not lib.default_deny(tenant.name)
}

evidence contains {
	"check": "tenant-default-deny",
	"object": lib.named(policy),
	"detail": "selects every pod; ingress and egress denied unless allowed",
} if {
	some tenant in lib.tenants
	policy := lib.default_deny(tenant.name)
}

# No binding to cluster-admin, anywhere.
findings contains {
	"check": "no-cluster-admin",
	"object": lib.named(binding),
	"gap": "binds cluster-admin: its subjects can do anything in the cluster",
	"fix": "bind a Role with the verbs the subjects need instead",
} if {
	some binding in array.concat(lib.objects("RoleBinding"), lib.objects("ClusterRoleBinding"))
	binding.roleRef.name == "cluster-admin"
}

# Tenant Roles name their verbs and resources.
findings contains {
	"check": "no-wildcard-role",
	"object": lib.named(role),
	"gap": "a wildcard verb or resource grants whatever the API server adds later",
	"fix": "list the verbs and resources the tenant's people need",
} if {
	some role in lib.objects("Role")
	role.metadata.namespace in {t.name | some t in lib.tenants}
	some rule in role.rules
	some word in array.concat(rule.verbs, object.get(rule, "resources", []))
	word == "*"
}

evidence contains {
	"check": "tenant-roles",
	"object": lib.named(binding),
	"detail": sprintf("binds Role %s to %s", [binding.roleRef.name, concat(", ", [sprintf("%s %s", [s.kind, s.name]) | some s in binding.subjects])]),
} if {
	some binding in lib.objects("RoleBinding")
	binding.metadata.namespace in {t.name | some t in lib.tenants}
}

# kubectl users meet the same access rules at admission.
findings contains {
	"check": "admission-enforces-access-rules",
	"object": sprintf("ValidatingAdmissionPolicyBinding %s.platform.mlops", [rule]),
	"gap": sprintf("rule %s does not deny at admission: a kubectl user can create what the deploy gate refuses", [rule]),
	"fix": sprintf("set platform.policy.enforcement.%s: mandatory (or remove the override)", [rule]),
} if {
	some rule in ["no-cluster-admin-binding", "no-wildcard-rbac"]
	not lib.admission_denies(rule)
}

evidence contains {
	"check": "admission-enforces-access-rules",
	"object": lib.named(lib.admission_denies(rule)),
	"detail": "validationActions: Deny, in every tenant namespace",
} if {
	some rule in ["no-cluster-admin-binding", "no-wildcard-rbac"]
	lib.admission_denies(rule)
}

# In the registry, a team's users are granted only the team's own models.
plans contains [cm, json.unmarshal(cm.data["access.json"])] if {
	some cm in lib.objects("ConfigMap")
	cm.metadata.name == "registry-access"
}

findings contains {
	"check": "registry-grants-own-models-only",
	"object": lib.named(cm),
	"gap": sprintf("user %s is granted %s on model %s, which is not its team's", [grant.user, grant.permission, grant.name]),
	"fix": "tenants get permissions from the blueprint's access plan only (services/registry/access.py): remove the grant",
} if {
	some [cm, plan] in plans
	owners := {name: owner | some [name, owner] in plan.models}
	some grant in plan.grants
	grant.resource == "registered_model"
	not startswith(grant.user, "platform.")
	team := split(grant.user, ".")[0]
	object.get(owners, grant.name, "") != team
}

evidence contains {
	"check": "registry-grants-own-models-only",
	"object": lib.named(cm),
	"detail": sprintf("%d users, %d grants; each team's users only on the team's models", [count(plan.users), count(plan.grants)]),
} if {
	some [cm, plan] in plans
}
