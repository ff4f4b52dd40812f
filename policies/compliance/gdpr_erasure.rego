# GDPR Art. 17, right to erasure: a person's data can be found and removed, and what was learnt from it
# is not served as if nothing happened. `mlplat gdpr erase` removes a subject's rows and marks every
# model version trained on them; this control checks that the path exists and that it was followed.
package compliance.controls.gdpr_erasure

import data.compliance.lib

control := {"id": "gdpr-art17", "framework": "gdpr", "reference": "Art. 17", "title": "Right to erasure"}

scope := "tenants holding personal data: a pii feature view, or phi: true"

applicable if count(lib.pii_tenants) > 0

# A person is found by the join key of an entity marked subject: true.
findings contains {
	"check": "erasure-path",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"gap": "personal data with no erasure path: none of its entities is marked as a data subject, so a person's rows cannot be found by their key",
	"fix": sprintf("mark the entity that is the person (one of %s) subject: true in tenants[%d].features.entities", [concat(", ", view.entities), lib.tenant_index(view.tenant)]),
} if {
	some view in lib.pii_views
	count(view.subjects) == 0
}

# A tenant that declares personal data (phi: true) but keeps none of it in a feature view with a subject:
# the platform cannot find a person's training data, wherever it lives.
findings contains {
	"check": "erasure-path",
	"object": sprintf("tenant %s", [name]),
	"gap": "declares personal data (phi: true) but no feature view holds it with a data subject: a person's training data cannot be found on the platform to erase",
	"fix": sprintf("declare the data as a feature view of tenants[%d] with a subject entity, or accept the gap with the process that erases it where it lives", [lib.tenant_index(name)]),
} if {
	some name in lib.phi_tenants
	not erasable_tenant(name)
}

erasable_tenant(name) if {
	some view in lib.pii_views
	view.tenant == name
	count(view.subjects) > 0
}

evidence contains {
	"check": "erasure-path",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"detail": sprintf("mlplat gdpr erase --tenant %s --entity %s=<value>", [view.tenant, key]),
} if {
	some view in lib.pii_views
	some subject in view.subjects
	some entity in lib.tenant(view.tenant).features.entities
	entity.name == subject
	key := object.get(entity, "joinKey", entity.name)
}

# A version trained on an erased subject's data is not served.
findings contains {
	"check": "erased-data-not-served",
	"object": sprintf("%s version %s", [version.model, version.version]),
	"gap": sprintf("serves @%s although it was trained on erased data (%s)", [concat(", @", version.aliases), version.tags[lib.retrain_tag]]),
	"fix": sprintf("retrain %s without the subject and promote the new version; the gate refuses this one", [version.model]),
} if {
	some version in lib.versions
	version.tags[lib.retrain_tag]
	count(version.aliases) > 0
}

evidence contains {
	"check": "erased-data-not-served",
	"object": "model registry",
	"detail": sprintf("%d versions marked for retraining after an erasure, none holding an alias", [count(marked)]),
} if {
	lib.registry_read
	marked := [v | some v in lib.versions; v.tags[lib.retrain_tag]]
	every version in marked { count(version.aliases) == 0 }
}

unverified contains {
	"check": "erased-data-not-served",
	"object": "model registry",
	"missing": "the registry was not read: versions trained on erased data may still serve",
	"fix": "run the report with --registry",
} if {
	not lib.registry_read
}

evidence contains {
	"check": "erasures-recorded",
	"object": input.audit.path,
	"detail": sprintf("%d erasures in the audit log", [count(lib.erasures)]),
} if {
	lib.audit_read
}

# Erased rows survive in backups until the backups age out: the data owner must know for how long.
evidence contains {
	"check": "backup-tail",
	"object": sprintf("backups of registry %s", [backup.registry]),
	"detail": sprintf("cover %s for about %d hours: an erased row held there is gone when they age out", [concat(", ", backup.covers), backup.windowHours]),
} if {
	some backup in input.backups
}
