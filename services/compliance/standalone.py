"""The compliance check in standalone: the cluster's CronJob, as a job of the supervisor's scheduler.

For the integrator of services/standalone/plan.py: `compliance_schedule(...)` returns the ScheduledJob to
add to the plan's schedules (or none, with the reason to put in `skipped`). It runs the command the
cluster's CronJob runs (infra/components/compliance_check.py), on the blueprint's
`platform.compliance.schedule`, with what standalone has instead of a cluster: the manifests the program
would create (standalone deploys none, so the Kubernetes controls judge the design, as `mlplat compliance
report` does by default), the local registry and the gate's audit log, and `opa eval` instead of an OPA
server; its status goes to the local Pushgateway when one runs, so ComplianceControlFailing fires there
too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from blueprints.cron import parse_cron
from blueprints.schema import Blueprint
from services.standalone.scheduler import ScheduledJob

__all__ = ["compliance_schedule"]


def compliance_schedule(
    blueprint: Blueprint,
    blueprint_ref: str,
    root: Path,
    *,
    tracking_uri: str,
    env: dict[str, str],
    pushgateway: str | None,
    opa_available: bool,
    python: str = sys.executable,
) -> tuple[list[ScheduledJob], dict[str, str]]:
    """([the check's ScheduledJob], {}) or ([], {"compliance-check": why not}).

    `blueprint_ref` is what `--blueprint` was given (a shipped name or a path); `env` signs the check in
    to the registry as a user who may read every model (standalone: the gate's credentials file);
    `opa_available` is whether services.compliance.opa.find_opa() found a binary."""
    settings = blueprint.platform.compliance
    if settings is None:
        return [], {"compliance-check": "the blueprint declares no platform.compliance"}
    if not opa_available:
        return [], {"compliance-check": "Open Policy Agent is not built (mlplat toolchain --only policy)"}
    command = [
        python, "-m", "services.cli", "compliance", "report", "--framework", "all",
        "--blueprint", blueprint_ref, "--registry", tracking_uri,
        "--audit-log", str(root / "audit" / "promotions.jsonl"), "--out", str(root / "compliance"),
        "--schedule-seconds", str(parse_cron(settings.schedule).max_interval_seconds),
    ]  # fmt: skip
    if pushgateway:
        command += ["--push-gateway", pushgateway]
    return [ScheduledJob("compliance-check", settings.schedule, command, dict(env), 15 * 60, kind="compliance")], {}
