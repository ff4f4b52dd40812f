# The world the controls' tests start from: a platform that meets every control, in the input document's
# shape (services/compliance/evidence.py). Each test changes one thing and expects one check to fail.
# Two tenants: shop (personal data: customers, on the shared registry) and clinic (PHI, a dedicated
# registry, patients as subjects).
package compliance.fixtures

labels(tenant) := {"platform.mlops/tenant": tenant}

namespace(name) := {
	"kind": "Namespace",
	"metadata": {"name": name, "labels": {"platform.mlops/tenant": name, "pod-security.kubernetes.io/enforce": "restricted"}},
}

deny_all(ns) := {
	"kind": "NetworkPolicy",
	"metadata": {"name": "default-deny-all", "namespace": ns},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

allow_gateway(ns) := {
	"kind": "NetworkPolicy",
	"metadata": {"name": "allow-gateway-to-serving", "namespace": ns},
	"spec": {
		"podSelector": {"matchLabels": {"app.kubernetes.io/component": "model-server"}},
		"policyTypes": ["Ingress"],
		"ingress": [{"from": [{
			"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops-system"}},
			"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}},
		}]}],
	},
}

role(ns) := {
	"kind": "Role",
	"metadata": {"name": "tenant-developer", "namespace": ns},
	"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
}

binding(ns) := {
	"kind": "RoleBinding",
	"metadata": {"name": "tenant-developer", "namespace": ns},
	"roleRef": {"kind": "Role", "name": "tenant-developer"},
	"subjects": [{"kind": "Group", "name": sprintf("%s-team", [ns])}],
}

model_server(ns, name, tracking) := {
	"kind": "Deployment",
	"metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/component": "model-server"}},
	"spec": {"template": {
		"metadata": {"annotations": {"prometheus.io/scrape": "true"}},
		"spec": {"containers": [{"name": "model-server", "env": [
			{"name": "MLFLOW_TRACKING_URI", "value": tracking},
			{"name": "MLPLAT_PUSHGATEWAY", "value": "http://pushgateway.mlops-monitoring.svc:9091"},
		]}]},
	}},
}

cronjob(ns, name) := {
	"kind": "CronJob",
	"metadata": {"name": name, "namespace": ns},
	"spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}},
}

admission(rule) := {
	"kind": "ValidatingAdmissionPolicyBinding",
	"metadata": {"name": sprintf("%s.platform.mlops", [rule])},
	"spec": {"policyName": sprintf("%s.platform.mlops", [rule]), "validationActions": ["Deny", "Audit"]},
}

access_plan(ns, models, grants) := {
	"kind": "ConfigMap",
	"metadata": {"name": "registry-access", "namespace": ns},
	"data": {"access.json": json.marshal({"users": ["platform.gate"], "models": models, "grants": grants})},
}

rules_yaml := yaml.marshal({"groups": [{"name": "alerts", "rules": [
	{"alert": "ModelServerDown"}, {"alert": "ModelErrorRatioAboveSLO"}, {"alert": "RegistryDown"},
	{"alert": "RegistryBackupMissed"}, {"alert": "ComplianceControlFailing"},
]}]})

alertmanager_yaml := yaml.marshal({
	"route": {"receiver": "oncall"},
	"receivers": [{"name": "oncall", "email_configs": [{"to": "oncall@example.org"}]}],
})

manifests := [
	namespace("shop"), namespace("clinic"),
	deny_all("shop"), deny_all("clinic"), allow_gateway("clinic"),
	role("shop"), role("clinic"), binding("shop"), binding("clinic"),
	model_server("shop", "scorer", "https://mlflow.mlops-system.svc:5000"),
	model_server("clinic", "readmission", "https://mlflow.clinic.svc:5000"),
	cronjob("mlops-system", "mlflow-db-backup"), cronjob("clinic", "mlflow-db-backup"),
	cronjob("mlops-system", "compliance-check"),
	admission("no-cluster-admin-binding"), admission("no-wildcard-rbac"),
	access_plan("mlops-system", [["scorer", "shop"]], [
		{"user": "platform.gate", "resource": "registered_model", "name": "*", "permission": "MANAGE"},
		{"user": "shop", "resource": "registered_model", "name": "scorer", "permission": "EDIT"},
		{"user": "shop.serving", "resource": "registered_model", "name": "scorer", "permission": "READ"},
	]),
	{"kind": "ConfigMap", "metadata": {"name": "prometheus-rules", "namespace": "mlops-monitoring"}, "data": {"rules.yml": rules_yaml}},
	{"kind": "ConfigMap", "metadata": {"name": "alertmanager-config", "namespace": "mlops-monitoring"}, "data": {"alertmanager.yml": alertmanager_yaml}},
]

view(name, entity, classification) := {
	"name": name, "entities": [entity], "ttl": "2d",
	"features": [{"name": "f1"}], "classification": classification,
}

blueprint := {
	"metadata": {"name": "test"},
	"platform": {
		"policy": {"defaultEnforcement": "mandatory", "enforcement": {}},
		"compliance": {"residency": "eu", "schedule": "0 * * * *", "acceptedGaps": []},
	},
	"tenants": [
		{
			"name": "shop", "registry": "shared",
			"data": {"classification": "confidential", "purposes": ["fraud-prevention"], "residency": "eu", "phi": false},
			"features": {
				"entities": [{"name": "customer", "joinKey": "customer_id", "subject": true}],
				"featureViews": [view("customers", "customer", {"pii": true, "purpose": "fraud-prevention", "retention": "400d"})],
				"featureServices": [{"name": "scoring", "featureViews": ["customers"]}],
			},
			"models": [{"name": "scorer", "features": {"service": "scoring"}}],
		},
		{
			"name": "clinic", "registry": "dedicated",
			"data": {"classification": "restricted", "purposes": ["care"], "residency": "eu", "phi": true},
			"features": {
				"entities": [{"name": "patient", "subject": true}],
				"featureViews": [view("visits", "patient", {"pii": true, "specialCategory": true, "purpose": "care", "retention": "30d"})],
				"featureServices": [],
			},
			"models": [{"name": "readmission"}],
		},
	],
}

passed(model, version, alias) := {"model": model, "version": version, "alias": alias, "decision": "pass", "hash": "ab12cd34ef56ab12"}

good := {
	"framework": "all",
	"now": "2026-12-05T12:00:00Z",
	"source": "rendered",
	"blueprint": blueprint,
	"manifests": manifests,
	"registry": {"read": true, "versions": [
		{"model": "scorer", "version": "1", "tenant": "shop", "tags": {}, "aliases": ["champion"]},
		{"model": "readmission", "version": "2", "tenant": "clinic", "tags": {}, "aliases": ["champion"]},
	]},
	"audit": {"read": true, "path": "audit.jsonl", "intact": true, "entries": [
		passed("scorer", "1", "champion"), passed("readmission", "2", "champion"),
	]},
	"promotion": {"version": "1", "rules": [{"id": "approvals", "kind": "approvals", "required": 1, "aliases": ["champion"]}]},
	"backups": [{"registry": "shared", "covers": ["mlflow"], "windowHours": 24}],
}

# The same world with one thing changed.
without(input_doc, kind, name) := object.union(input_doc, {"manifests": [m |
	some m in input_doc.manifests
	not removed(m, kind, name)
]})

removed(m, kind, name) if {
	m.kind == kind
	m.metadata.name == name
}

with_manifest(input_doc, m) := object.union(input_doc, {"manifests": array.concat(input_doc.manifests, [m])})

patched(input_doc, ops) := json.patch(input_doc, ops)

checks(found) := {f.check | some f in found}
