# GDPR Art. 30, records of processing activities: for each activity, its purposes, the categories of
# data and of data subjects, the recipients, where the data is kept and for how long. The blueprint
# holds all of it; `record` below IS the record (the report prints it), and the findings are where
# the blueprint leaves a column empty or contradicts itself.
package compliance.controls.gdpr_records_of_processing

import data.compliance.lib

control := {
	"id": "gdpr-art30",
	"framework": "gdpr",
	"reference": "Art. 30",
	"title": "Records of processing activities",
}

scope := "tenants holding personal data: a pii feature view, or phi: true"

applicable if count(lib.pii_tenants) > 0

purposes(name) := {p | some p in lib.tenant(name).data.purposes}

platform_residency := input.blueprint.platform.compliance.residency

# Who reads each personal feature view: the tenant's models whose feature service includes it.
recipients(view) := sort([model.name |
	some model in lib.tenant(view.tenant).models
	view.name in lib.model_views(lib.tenant(view.tenant), model)
])

record contains {
	"tenant": view.tenant,
	"activity": view.name,
	"purpose": object.get(view.classification, "purpose", ""),
	"data": view.features,
	"subjects": view.subjects,
	"specialCategory": object.get(view.classification, "specialCategory", false),
	"recipients": recipients(view),
	"retention": object.get(view.classification, "retention", ""),
	"residency": object.get(object.get(lib.tenant(view.tenant), "data", {}), "residency", ""),
} if {
	some view in lib.pii_views
}

# A tenant that declares personal data kept outside the platform (phi: true, no personal feature view)
# is in the record too: its models are the processing, its data is named as held elsewhere.
record contains {
	"tenant": name,
	"activity": "model training and serving",
	"purpose": concat(", ", sort([p | some p in purposes(name)])),
	"data": ["health records, held outside the platform"],
	"subjects": ["patients"],
	"specialCategory": true,
	"recipients": sort([m.name | some m in lib.tenant(name).models]),
	"retention": "",
	"residency": object.get(object.get(lib.tenant(name), "data", {}), "residency", ""),
} if {
	some name in lib.phi_tenants
	not name in {view.tenant | some view in lib.pii_views}
}

findings contains {
	"check": "purposes-declared",
	"object": sprintf("tenant %s", [name]),
	"gap": "processes personal data with no declared purpose",
	"fix": sprintf("declare tenants[%d].data.purposes (e.g. [fraud-prevention])", [lib.tenant_index(name)]),
} if {
	some name in lib.pii_tenants
	count(purposes(name)) == 0
}

findings contains {
	"check": "view-purpose",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"gap": "personal data with no purpose",
	"fix": sprintf("set %s.classification.purpose to one of the tenant's purposes", [view.path]),
} if {
	some view in lib.pii_views
	not view.classification.purpose
}

findings contains {
	"check": "view-purpose",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"gap": sprintf("purpose %q is not one the tenant declares (%s)", [view.classification.purpose, concat(", ", sort([p | some p in purposes(view.tenant)]))]),
	"fix": sprintf("add %q to tenants[%d].data.purposes, or correct the view's purpose", [view.classification.purpose, lib.tenant_index(view.tenant)]),
} if {
	some view in lib.pii_views
	view.classification.purpose
	not view.classification.purpose in purposes(view.tenant)
}

# A model that reads personal data serves it to its callers: its tenant must say why.
findings contains {
	"check": "served-with-a-purpose",
	"object": sprintf("tenant %s, model %s", [view.tenant, model]),
	"gap": sprintf("serves predictions from personal data (view %s) in a tenant with no declared purpose", [view.name]),
	"fix": sprintf("declare tenants[%d].data.purposes, or stop reading the view", [lib.tenant_index(view.tenant)]),
} if {
	some view in lib.pii_views
	count(purposes(view.tenant)) == 0
	some model in recipients(view)
}

findings contains {
	"check": "residency",
	"object": sprintf("tenant %s", [name]),
	"gap": "processes personal data with no declared residency",
	"fix": sprintf("set tenants[%d].data.residency (e.g. eu)", [lib.tenant_index(name)]),
} if {
	some name in lib.pii_tenants
	not lib.tenant(name).data.residency
}

findings contains {
	"check": "residency",
	"object": sprintf("tenant %s", [name]),
	"gap": sprintf("its data must stay in %q and the platform stores it in %q", [lib.tenant(name).data.residency, platform_residency]),
	"fix": "deploy the tenant on a platform in its residency, or correct the declaration",
} if {
	some name in lib.pii_tenants
	lib.tenant(name).data.residency
	platform_residency
	lib.tenant(name).data.residency != platform_residency
}

findings contains {
	"check": "residency",
	"object": "platform",
	"gap": "the platform does not say where it stores data",
	"fix": "set platform.compliance.residency (the cluster's region, e.g. eu)",
} if {
	count(lib.pii_tenants) > 0
	not platform_residency
}

evidence contains {
	"check": "record",
	"object": sprintf("tenant %s, feature view %s", [entry.tenant, entry.activity]),
	"detail": sprintf("purpose %s; subjects %s; read by %s; kept %s; in %s", [entry.purpose, concat(", ", entry.subjects), concat(", ", entry.recipients), entry.retention, entry.residency]),
} if {
	some entry in record
}
