# GDPR Art. 5(1)(e), storage limitation: personal data is kept no longer than its purpose needs. Every
# personal feature view declares how long a row is kept, and nothing serves it longer than that.
package compliance.controls.gdpr_storage_limitation

import data.compliance.lib

control := {"id": "gdpr-art5-1e", "framework": "gdpr", "reference": "Art. 5(1)(e)", "title": "Storage limitation"}

scope := "feature views classified pii: true"

applicable if count(lib.pii_views) > 0

findings contains {
	"check": "pii-retention-declared",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"gap": "personal data without a retention period: nothing says when a row must go",
	"fix": sprintf("set %s.classification.retention (e.g. 400d): how long a row is kept after its event time", [view.path]),
} if {
	some view in lib.pii_views
	not view.classification.retention
}

# The online store keeps an entity's newest value for the view's TTL; past the retention it must not be
# served, so the TTL fits inside the retention.
findings contains {
	"check": "ttl-within-retention",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"gap": sprintf("ttl %s is longer than the retention %s: the online store may serve a value it should no longer hold", [view.ttl, view.classification.retention]),
	"fix": sprintf("lower %s.ttl to at most %s, or raise the retention", [view.path, view.classification.retention]),
} if {
	some view in lib.pii_views
	view.classification.retention
	lib.seconds(view.ttl) > lib.seconds(view.classification.retention)
}

evidence contains {
	"check": "pii-retention-declared",
	"object": sprintf("tenant %s, feature view %s", [view.tenant, view.name]),
	"detail": sprintf("retention %s, online ttl %s", [view.classification.retention, view.ttl]),
} if {
	some view in lib.pii_views
	view.classification.retention
}

# Backups hold data too: say for how long, so a retention period is read with its backup tail.
evidence contains {
	"check": "backup-tail",
	"object": sprintf("backups of registry %s", [backup.registry]),
	"detail": sprintf("cover %s; the oldest is about %d hours old", [concat(", ", backup.covers), backup.windowHours]),
} if {
	some backup in input.backups
}
