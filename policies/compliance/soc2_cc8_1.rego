# SOC 2 CC8.1, change management: infrastructure changes pass the deploy gate, model changes pass the
# promotion gate with a person's approval, and every decision is in an intact audit log.
package compliance.controls.soc2_cc8_1

import data.compliance.lib

control := {"id": "soc2-cc8.1", "framework": "soc2", "reference": "CC8.1", "title": "Change management"}

scope := "the deploy gate's levels, the promotion rules, the audit log and every served version"

applicable := true

# Every guardrail blocks a deploy: an advisory or disabled rule lets a change through with a warning.
findings contains {
	"check": "guardrails-mandatory",
	"object": sprintf("platform.policy.enforcement.%s", [rule]),
	"gap": sprintf("guardrail %s is %s: a change that breaks it is deployed anyway", [rule, level]),
	"fix": sprintf("remove the override (or set it to mandatory) once the platform's objects pass %s", [rule]),
} if {
	some rule, level in object.get(input.blueprint.platform.policy, "enforcement", {})
	level != "mandatory"
}

findings contains {
	"check": "guardrails-mandatory",
	"object": "platform.policy.defaultEnforcement",
	"gap": sprintf("every guardrail defaults to %s", [input.blueprint.platform.policy.defaultEnforcement]),
	"fix": "set defaultEnforcement: mandatory",
} if {
	input.blueprint.platform.policy.defaultEnforcement != "mandatory"
}

evidence contains {
	"check": "guardrails-mandatory",
	"object": "platform.policy",
	"detail": "every guardrail is mandatory at deploy time and at admission",
} if {
	input.blueprint.platform.policy.defaultEnforcement == "mandatory"
	every level in object.get(input.blueprint.platform.policy, "enforcement", {}) { level == "mandatory" }
}

# A person approves every champion.
approval_rules := [rule |
	some rule in input.promotion.rules
	rule.kind == "approvals"
	rule.required >= 1
	any_alias_or_champion(rule)
]

any_alias_or_champion(rule) if not rule.aliases

any_alias_or_champion(rule) if "champion" in rule.aliases

findings contains {
	"check": "champion-needs-approval",
	"object": sprintf("promotion rules %s", [input.promotion.version]),
	"gap": "no rule requires a person's approval before a version becomes the champion",
	"fix": "add an approvals rule (required: 1, aliases: [champion]) to policies/promotion/rules.yaml",
} if {
	count(approval_rules) == 0
}

evidence contains {
	"check": "champion-needs-approval",
	"object": sprintf("promotion rules %s, rule %s", [input.promotion.version, rule.id]),
	"detail": sprintf("%d approval(s) by someone other than the author", [rule.required]),
} if {
	some rule in approval_rules
}

# The audit log is intact: no line changed, removed or reordered.
findings contains {
	"check": "audit-log-intact",
	"object": input.audit.path,
	"gap": sprintf("the audit log's hash chain is broken: %s", [input.audit.error]),
	"fix": "restore the log from its backup and find out who changed it; decisions after the break cannot be trusted",
} if {
	lib.audit_read
	not input.audit.intact
}

evidence contains {
	"check": "audit-log-intact",
	"object": input.audit.path,
	"detail": sprintf("%d entries, hash chain verified", [count(input.audit.entries)]),
} if {
	lib.audit_read
	input.audit.intact
}

unverified contains {
	"check": "audit-log-intact",
	"object": "promotion audit log",
	"missing": sprintf("the audit log was not read (%s)", [input.audit.note]),
	"fix": "run the report with --audit-log (standalone: .mlplat/audit/promotions.jsonl); in the cluster the decision tags stand in for it",
} if {
	not lib.audit_read
}

# Every version an alias points at got there through the gate.
findings contains {
	"check": "served-versions-passed-the-gate",
	"object": sprintf("%s version %s", [version.model, version.version]),
	"gap": sprintf("holds @%s without a passing gate decision for it: the alias was moved around the gate", [alias]),
	"fix": sprintf("mlplat promote %s %s --to %s (or move the alias back)", [version.model, version.version, alias]),
} if {
	some version in lib.versions
	some alias in version.aliases
	not lib.passed_gate(version, alias)
}

evidence contains {
	"check": "served-versions-passed-the-gate",
	"object": sprintf("%s version %s @%s", [version.model, version.version, alias]),
	"detail": sprintf("passed the gate: %s", [lib.passed_gate(version, alias)]),
} if {
	some version in lib.versions
	some alias in version.aliases
	lib.passed_gate(version, alias)
}

unverified contains {
	"check": "served-versions-passed-the-gate",
	"object": "model registry",
	"missing": "the registry was not read: which versions serve, and whether they passed the gate, is unknown",
	"fix": "run the report with --registry (the tracking URI), signed in as a user who may read every model",
} if {
	not lib.registry_read
}
