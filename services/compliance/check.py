"""One compliance check, start to end: gather the evidence, evaluate the controls, write the report,
and (in the cluster's scheduled run) push each control's status to the Pushgateway.

`mlplat compliance report` is this module with its arguments; the cluster's CronJob runs the same
command with `--live` (objects from the API server), the OPA server beside it and `--push-gateway`,
and Prometheus raises ComplianceControlFailing from what it pushes (services/monitoring/rules.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blueprints.schema import Blueprint
from services.compliance import evidence, report
from services.compliance.opa import Evaluator
from services.monitoring import metric_names as m

__all__ = ["Check", "JOB", "run", "write", "push"]

log = logging.getLogger("mlplat.compliance")
JOB = "mlplat-compliance"  # the Pushgateway group's job label


@dataclass
class Check:
    """What one run reads; `inputs` describes each source for the report's header."""

    blueprint: Blueprint
    framework: str
    manifests: list[dict[str, Any]]
    source: str  # rendered | files | live
    registry: dict[str, Any]
    audit: dict[str, Any]
    promotion: dict[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)


def run(check: Check, evaluator: Evaluator) -> dict[str, Any]:
    """The report's result: OPA's answer for the check's input document."""
    document = evidence.document(
        check.blueprint,
        check.manifests,
        framework=check.framework,
        source=check.source,
        registry=check.registry,
        audit=check.audit,
        promotion=check.promotion,
    )
    return evaluator.evaluate(document)


def write(result: dict[str, Any], inputs: dict[str, str], out: Path) -> tuple[Path, Path]:
    """`<blueprint>-<framework>.md` and `.json` in `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['blueprint']}-{result['framework']}"
    markdown, data = out / f"{stem}.md", out / f"{stem}.json"
    markdown.write_text(report.to_markdown(result, inputs=inputs), encoding="utf-8")
    data.write_text(report.to_json(result) + "\n", encoding="utf-8")
    return markdown, data


def push(result: dict[str, Any], gateway: str, *, schedule_seconds: int | None, now: float) -> None:
    """Every control's status to the Pushgateway (one group per blueprint); an unreachable gateway is
    logged, and the ComplianceCheckLate alert then tells that the check stopped reporting."""
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    status = Gauge(
        m.COMPLIANCE_CONTROL_STATUS,
        "1 for the control's status in the last check, 0 for the other statuses",
        ("framework", "control", "status"),
        registry=registry,
    )
    for control in result["controls"]:
        for name in report.STATUSES:
            status.labels(control["control"]["framework"], control["control"]["id"], name).set(
                int(control["status"] == name)
            )
    Gauge(m.COMPLIANCE_LAST_RUN, "when the compliance check last ran", registry=registry).set(now)
    if schedule_seconds:
        Gauge(m.COMPLIANCE_INTERVAL, "longest gap between two scheduled checks", registry=registry).set(
            schedule_seconds
        )
    try:
        pushadd_to_gateway(gateway, job=JOB, grouping_key={"blueprint": result["blueprint"]}, registry=registry)
    except OSError as exc:
        log.warning("could not push the compliance status to %s: %s", gateway, exc)
