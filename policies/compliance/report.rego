# The report: every control of the chosen framework with its status, findings, evidence and what could
# not be verified. `mlplat compliance report` evaluates `data.compliance.report.result` (with `opa eval`,
# or the OPA server in the cluster); the controls live in the packages under compliance.controls.
#
# A control's status:
#   not-applicable  nothing in scope (no PHI for HIPAA, no personal data for most of the GDPR)
#   pass            no finding, and everything it reads was read
#   unverified      no finding, but evidence it needs was not given (the registry, the audit log)
#   accepted        findings, each covered by an acceptance of its check (platform.compliance.acceptedGaps)
#                   that has not ended
#   fail            a finding no acceptance covers (or whose acceptance has ended)
package compliance.report

import data.compliance.controls

today := substring(input.now, 0, 10)

accepted_gaps := object.get(input.blueprint.platform, ["compliance", "acceptedGaps"], [])

# The acceptances of a control's checks (platform.compliance.acceptedGaps), ended or not.
acceptances(id) := [gap | some gap in accepted_gaps; gap.control == id]

active(gap) if gap.until >= today

# Every finding is covered by an acceptance of its check that has not ended.
covered(c) if {
	every finding in c.findings {
		some gap in acceptances(c.control.id)
		gap.check == finding.check
		active(gap)
	}
}

status(c) := "not-applicable" if {
	not c.applicable
} else := "accepted" if {
	count(c.findings) > 0
	covered(c)
} else := "fail" if {
	count(c.findings) > 0
} else := "unverified" if {
	count(object.get(c, "unverified", set())) > 0
} else := "pass"

selected contains name if {
	some name, c in controls
	c.control
	input.framework in {"all", c.control.framework}
}

# What a control found, read and missed; nothing for a control with nothing in scope.
part(c, key) := object.get(c, key, set()) if c.applicable

else := set()

results contains {
	"control": c.control,
	"scope": c.scope,
	"status": status(c),
	"findings": part(c, "findings"),
	"evidence": part(c, "evidence"),
	"unverified": part(c, "unverified"),
	"acceptances": acceptances(c.control.id),
	"record": part(c, "record"),
} if {
	some name in selected
	c := controls[name]
}

result := {
	"framework": input.framework,
	"source": input.source,
	"blueprint": input.blueprint.metadata.name,
	"generated": input.now,
	"controls": results,
}
