"""A finding: one rule's verdict on one object, in the shape every gate's report uses.

Both engines of `mlplat policy check` (the deploy rules and the admission CEL) produce findings, so
their reports read the same and the tests compare them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding", "table"]


@dataclass(frozen=True, order=True)
class Finding:
    source: str  # where the object came from: `path.yaml#2`, or a Pulumi URN
    resource: str  # `Deployment/fraud/fraud-scorer`
    rule: str
    level: str  # mandatory | advisory
    message: str  # starts with what is wrong, ends with the fix


def table(findings: list[Finding]) -> str:
    """A plain-text table: RESOURCE, RULE, LEVEL, MESSAGE (the resource prefixed by its source)."""
    rows = [("RESOURCE", "RULE", "LEVEL", "MESSAGE")]
    rows += [(f"{f.source} {f.resource}".strip(), f.rule, f.level, f.message) for f in sorted(findings)]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]).rstrip()
        for row in rows
    )
