"""The compliance controls the platform checks, by id: one list for the blueprint schema (an accepted
gap must name a real control), the report (order and titles) and the tests.

Each control is one Rego package, `compliance.controls.<package>`, in `policies/compliance/<package>.rego`,
which names its control with `control_id := "<id>"`; the tests hold the two lists equal, so a control
can be neither documented without being checked nor checked without being listed. What a control checks
and with which evidence is in its Rego file and in docs/compliance.md.

Pure data, with no imports from the rest of the project, so the schema can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Control", "CONTROLS", "CONTROL_IDS", "CHECKS", "FRAMEWORKS", "Framework"]

Framework = Literal["soc2", "hipaa", "gdpr"]
FRAMEWORKS: tuple[str, ...] = ("soc2", "hipaa", "gdpr")


@dataclass(frozen=True)
class Control:
    id: str
    framework: Framework
    reference: str  # as the framework itself numbers it
    title: str
    package: str  # the Rego package under compliance.controls
    checks: tuple[str, ...]  # what it checks: the `check` of its findings and evidence


CONTROLS: tuple[Control, ...] = (
    Control(
        "soc2-cc6.1", "soc2", "CC6.1", "Logical access security", "soc2_cc6_1",
        ("tenant-default-deny", "no-cluster-admin", "no-wildcard-role", "tenant-roles",
         "admission-enforces-access-rules", "registry-grants-own-models-only"),
    ),
    Control(
        "soc2-cc7.2", "soc2", "CC7.2", "System monitoring", "soc2_cc7_2",
        ("alert-rules", "model-servers-scraped", "alerts-reach-a-person", "compliance-checked-on-schedule"),
    ),
    Control(
        "soc2-cc8.1", "soc2", "CC8.1", "Change management", "soc2_cc8_1",
        ("guardrails-mandatory", "champion-needs-approval", "audit-log-intact", "served-versions-passed-the-gate"),
    ),
    Control(
        "hipaa-164.312-a", "hipaa", "§164.312(a)(1)", "Access control", "hipaa_access_control",
        ("phi-registry-dedicated", "phi-namespace-closed", "phi-pods-restricted"),
    ),
    Control(
        "hipaa-164.312-b", "hipaa", "§164.312(b)", "Audit controls", "hipaa_audit_controls",
        ("audit-log-intact", "phi-decisions-recorded", "phi-registry-backed-up"),
    ),
    Control(
        "hipaa-164.312-e", "hipaa", "§164.312(e)(1)", "Transmission security", "hipaa_transmission_security",
        ("encrypted-in-transit",),
    ),
    Control(
        "gdpr-art5-1e", "gdpr", "Art. 5(1)(e)", "Storage limitation", "gdpr_storage_limitation",
        ("pii-retention-declared", "ttl-within-retention", "backup-tail"),
    ),
    Control(
        "gdpr-art17", "gdpr", "Art. 17", "Right to erasure", "gdpr_erasure",
        ("erasure-path", "erased-data-not-served", "erasures-recorded", "backup-tail"),
    ),
    Control(
        "gdpr-art30", "gdpr", "Art. 30", "Records of processing activities", "gdpr_records_of_processing",
        ("purposes-declared", "view-purpose", "served-with-a-purpose", "residency", "record"),
    ),
    Control(
        "gdpr-art32", "gdpr", "Art. 32", "Security of processing", "gdpr_security_of_processing",
        ("isolated", "restorable", "encrypted-in-transit"),
    ),
)  # fmt: skip

CONTROL_IDS: tuple[str, ...] = tuple(control.id for control in CONTROLS)
CHECKS: dict[str, tuple[str, ...]] = {control.id: control.checks for control in CONTROLS}
