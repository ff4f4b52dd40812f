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

__all__ = ["Control", "CONTROLS", "CONTROL_IDS", "FRAMEWORKS", "Framework"]

Framework = Literal["soc2", "hipaa", "gdpr"]
FRAMEWORKS: tuple[str, ...] = ("soc2", "hipaa", "gdpr")


@dataclass(frozen=True)
class Control:
    id: str
    framework: Framework
    reference: str  # as the framework itself numbers it
    title: str
    package: str  # the Rego package under compliance.controls


CONTROLS: tuple[Control, ...] = (
    Control("soc2-cc6.1", "soc2", "CC6.1", "Logical access security", "soc2_cc6_1"),
    Control("soc2-cc7.2", "soc2", "CC7.2", "System monitoring", "soc2_cc7_2"),
    Control("soc2-cc8.1", "soc2", "CC8.1", "Change management", "soc2_cc8_1"),
    Control("hipaa-164.312-a", "hipaa", "§164.312(a)(1)", "Access control", "hipaa_access_control"),
    Control("hipaa-164.312-b", "hipaa", "§164.312(b)", "Audit controls", "hipaa_audit_controls"),
    Control("hipaa-164.312-e", "hipaa", "§164.312(e)(1)", "Transmission security", "hipaa_transmission_security"),
    Control("gdpr-art5-1e", "gdpr", "Art. 5(1)(e)", "Storage limitation", "gdpr_storage_limitation"),
    Control("gdpr-art17", "gdpr", "Art. 17", "Right to erasure", "gdpr_erasure"),
    Control("gdpr-art30", "gdpr", "Art. 30", "Records of processing activities", "gdpr_records_of_processing"),
    Control("gdpr-art32", "gdpr", "Art. 32", "Security of processing", "gdpr_security_of_processing"),
)

CONTROL_IDS: tuple[str, ...] = tuple(control.id for control in CONTROLS)
