"""Data governance: what a tenant's data is, why it is processed, where it must stay and how long it
is kept (docs/compliance.md, ADR 0024).

Three places in a blueprint say it:
- a tenant's `data`: its classification, the purposes it processes data for (the GDPR's record of
  processing, Art. 30), its residency, and whether it handles protected health information (HIPAA);
- a feature view's `classification`: whether its rows are personal data, for which purpose, and its
  retention period (storage limitation, Art. 5(1)(e));
- an entity's `subject: true`: the entity is a person, so `mlplat gdpr erase` finds their rows by its
  join key (the view's erasure path, Art. 17);
and the platform's `compliance`: where the platform itself stores data, the schedule of the cluster's
compliance check, and the gaps the organisation accepts on purpose, each with a reason and an end date.

What is checked here is only what makes a declaration unreadable (a misspelt level, a retention that is
not a duration, PHI not classified restricted). What makes a readable declaration non-compliant (PII
without retention, a purpose the tenant never declared) is a finding of the compliance report
(policies/compliance/), so a blueprint with a gap still loads and the report can name the gap; the
deploy gate refuses the worst of them (`personal-data-governed`, policies/catalog.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, model_validator

from blueprints.schema.fields import CronSchedule, Spec, repeated
from policies.compliance.controls import CHECKS, CONTROL_IDS

__all__ = [
    "CLASSIFICATIONS",
    "AcceptedGap",
    "ComplianceSettings",
    "FeatureClassification",
    "TenantData",
    "retention_seconds",
]

CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
Classification = Literal["public", "internal", "confidential", "restricted"]
_PURPOSE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_RESIDENCY = re.compile(r"^[a-z]{2}(-[a-z0-9]+){0,3}$")
_RETENTION = re.compile(r"^(\d+)([hdw])$")


def _purpose(value: str) -> str:
    if not _PURPOSE.match(value):
        raise ValueError(
            f"{value!r} is not a purpose name: use lowercase letters, digits and '-', starting with a letter "
            '(e.g. "fraud-prevention")'
        )
    return value


def _residency(value: str) -> str:
    if not _RESIDENCY.match(value):
        raise ValueError(
            f"{value!r} is not a residency label: use a lowercase region code such as "
            '"eu", "us" or "eu-west-1" (two letters, then optional -parts)'
        )
    return value


def _retention(value: str) -> str:
    match = _RETENTION.match(value)
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f'{value!r} is not a retention period: write a positive number of hours, days or weeks (e.g. "400d")'
        )
    return value


def _control(value: str) -> str:
    if value not in CONTROL_IDS:
        raise ValueError(f"{value!r} is not a control: use one of {', '.join(CONTROL_IDS)}")
    return value


Purpose = Annotated[str, AfterValidator(_purpose)]
Residency = Annotated[str, AfterValidator(_residency)]
Retention = Annotated[str, AfterValidator(_retention)]
ControlId = Annotated[str, AfterValidator(_control)]


def retention_seconds(value: str) -> int:
    """Seconds in a retention period ("400d")."""
    match = _RETENTION.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a retention period")
    return int(match.group(1)) * {"h": 3600, "d": 86400, "w": 7 * 86400}[match.group(2)]


class FeatureClassification(Spec):
    """A feature view's `classification`. `pii` and `specialCategory` are strict booleans: "yes" is an
    error, not a truthy string, because a silently misread flag would hide personal data."""

    pii: StrictBool = Field(default=False, description="its rows are personal data: they identify a person")
    special_category: StrictBool = Field(
        default=False, description="health, biometric or similar data (GDPR Art. 9; PHI under HIPAA)"
    )
    purpose: Purpose | None = Field(default=None, description="why it is processed: one of its tenant's purposes")
    retention: Retention | None = Field(default=None, description="how long a row is kept after its event time")

    @model_validator(mode="after")
    def _special_is_personal(self) -> FeatureClassification:
        if self.special_category and not self.pii:
            raise ValueError(
                "specialCategory: true describes a person's health or similar data, which is personal data: "
                "set pii: true as well"
            )
        return self


class TenantData(Spec):
    """A tenant's `data`: its classification, purposes and residency (the GDPR record of processing)."""

    classification: Classification = "internal"
    purposes: list[Purpose] = Field(default_factory=list, description="why the tenant processes personal data")
    residency: Residency | None = Field(default=None, description="where its data must stay (e.g. eu)")
    phi: StrictBool = Field(default=False, description="handles protected health information (HIPAA scope)")

    @model_validator(mode="after")
    def _consistent(self) -> TenantData:
        index = repeated(list(self.purposes))
        if index is not None:
            raise ValueError(f"purposes[{index}]: {self.purposes[index]!r} is listed twice: list each purpose once")
        if self.phi and self.classification != "restricted":
            raise ValueError(
                f"classification: {self.classification!r} with phi: true; protected health information is "
                "restricted data: set classification: restricted"
            )
        return self


class AcceptedGap(Spec):
    """A gap the organisation knowingly leaves open: the findings of one check of one control. While
    every finding of a control is covered by an acceptance that has not ended, the report shows the
    control `accepted` (with the reason) instead of `fail`; a finding of another check still fails it,
    so accepting one gap never hides a new one. After `until`, the gap fails again and the alert fires."""

    control: ControlId
    check: str = Field(description="the check whose findings are accepted (docs/compliance.md lists them)")
    reason: str = Field(min_length=20, description="why it is accepted and what compensates for it")
    owner: str = Field(min_length=1, description="who accepted it")
    until: dt.date = Field(description="the acceptance ends (an ISO date, e.g. 2027-06-30)")

    @model_validator(mode="after")
    def _check_of_the_control(self) -> AcceptedGap:
        if self.check not in CHECKS[self.control]:
            raise ValueError(
                f"check: {self.check!r} is not a check of control {self.control}; its checks: "
                f"{', '.join(CHECKS[self.control])}"
            )
        return self


class ComplianceSettings(Spec):
    """The platform's `compliance`: its residency, the cluster's scheduled check and accepted gaps."""

    residency: Residency = Field(description="where the platform stores data: its cluster's region")
    schedule: CronSchedule = Field(default="0 * * * *", description="the cluster's compliance check (a CronJob)")
    accepted_gaps: list[AcceptedGap] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_acceptance_per_control(self) -> ComplianceSettings:
        index = repeated([f"{gap.control} {gap.check}" for gap in self.accepted_gaps])
        if index is not None:
            gap = self.accepted_gaps[index]
            raise ValueError(
                f"acceptedGaps[{index}]: check {gap.check!r} of {gap.control} is accepted twice: "
                "keep one entry per control and check"
            )
        return self
