# What every control reads, named once: the blueprint's tenants and feature views, the rendered (or
# live) Kubernetes objects, the registry's versions and the promotion gate's audit log, and the helpers
# that turn them into facts (docs/compliance.md describes the input document).
package compliance.lib

# --- the blueprint ---------------------------------------------------------------------------------

tenants := input.blueprint.tenants

# Every feature view with where it is declared: its tenant, its path in the blueprint (for the fix) and
# the entities it is about.
views contains view if {
	some i, tenant in tenants
	some j, v in tenant.features.featureViews
	view := {
		"tenant": tenant.name,
		"name": v.name,
		"path": sprintf("tenants[%d].features.featureViews[%d]", [i, j]),
		"entities": v.entities,
		"ttl": v.ttl,
		"classification": object.get(v, "classification", {}),
		"features": [f.name | some f in v.features],
		"subjects": [e.name | some e in tenant.features.entities; e.name in v.entities; e.subject],
	}
}

pii_views contains view if {
	some view in views
	view.classification.pii
}

# Tenants holding personal data: a PII feature view, or a declared classification that says so.
pii_tenants contains tenant.name if {
	some tenant in tenants
	some view in pii_views
	view.tenant == tenant.name
}

pii_tenants contains tenant.name if {
	some tenant in tenants
	tenant.data.phi
}

phi_tenants contains tenant.name if {
	some tenant in tenants
	tenant.data.phi
}

tenant(name) := t if {
	some t in tenants
	t.name == name
}

tenant_index(name) := i if {
	some i, t in tenants
	t.name == name
}

# The feature views a model reads (through its feature service).
model_views(tenant_spec, model) := {name |
	some service in tenant_spec.features.featureServices
	service.name == model.features.service
	some name in service.featureViews
}

# Durations as the blueprint writes them ("400d", "2d", "12h", "1w", "30m") in seconds.
_units := {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

seconds(duration) := to_number(substring(duration, 0, count(duration) - 1)) * _units[substring(duration, count(duration) - 1, 1)]

# --- Kubernetes objects (rendered by the Pulumi program, or read from the live cluster) -------------

objects(kind) := [o | some o in input.manifests; o.kind == kind]

named(o) := sprintf("%s %s/%s", [o.kind, object.get(o.metadata, "namespace", ""), o.metadata.name]) if {
	o.metadata.namespace
} else := sprintf("%s %s", [o.kind, o.metadata.name])

# A NetworkPolicy selecting every pod, with both policy types and no allow rule: the default deny.
default_deny(namespace) := policy if {
	some policy in objects("NetworkPolicy")
	policy.metadata.namespace == namespace
	policy.spec.podSelector == {}
	{"Ingress", "Egress"} == {t | some t in policy.spec.policyTypes}
	not policy.spec.ingress
	not policy.spec.egress
}

# Pod templates wherever a kind keeps them, with the object that holds them.
templates contains [o, o.spec.template.spec] if {
	some o in input.manifests
	o.kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}
}

templates contains [o, o.spec.jobTemplate.spec.template.spec] if {
	some o in objects("CronJob")
}

# Every environment variable's literal value in a namespace's pods: [object, container, name, value].
env_values(namespace) := {[o, c.name, e.name, e.value] |
	some [o, spec] in templates
	o.metadata.namespace == namespace
	some c in array.concat(object.get(spec, "containers", []), object.get(spec, "initContainers", []))
	some e in c.env
	is_string(e.value)
}

# A connection URL that does not guarantee encryption: plain HTTP, or PostgreSQL without a required
# TLS mode (libpq's default, "prefer", falls back to plaintext without telling anyone).
plaintext(value) if startswith(value, "http://")

plaintext(value) if {
	regex.match(`^postgres(ql)?://`, value)
	not regex.match(`sslmode=(require|verify-ca|verify-full)`, value)
}

# [object, container, variable, URL] of every connection URL in a namespace's pods that carries data:
# the monitoring namespace receives metrics only, so pushes to it are left out.
connections(namespace) := {[o, container, name, value] |
	some [o, container, name, value] in env_values(namespace)
	regex.match(`^[a-z]+://`, value)
	not contains(value, ".mlops-monitoring.svc")
}

# An admission policy denies in tenant namespaces when its binding says Deny.
admission_denies(rule) := binding if {
	some binding in objects("ValidatingAdmissionPolicyBinding")
	binding.spec.policyName == sprintf("%s.platform.mlops", [rule])
	"Deny" in binding.spec.validationActions
}

# --- the registry and the audit log --------------------------------------------------------------

registry_read if input.registry.read

audit_read if input.audit.read

versions := object.get(input.registry, "versions", [])

promotions := [e | some e in object.get(input.audit, "entries", []); e.decision]

erasures := [e | some e in object.get(input.audit, "entries", []); e.event == "erasure"]

# The tag the erasure puts on a version trained on an erased subject's data (services/compliance/erasure.py).
retrain_tag := "platform.mlops/retrain-required"

# A pass for `alias` of this version, in the audit log or (without it) in the gate's decision tags.
passed_gate(version, alias) := sprintf("audit entry %s", [substring(entry.hash, 0, 12)]) if {
	some entry in promotions
	entry.model == version.model
	entry.version == version.version
	entry.alias == alias
	entry.decision == "pass"
} else := sprintf("decision tags (audit %s)", [substring(version.tags["platform.mlops/decision-audit"], 0, 12)]) if {
	not audit_read
	version.tags["platform.mlops/decision"] == "pass"
	version.tags["platform.mlops/decision-alias"] == alias
}
