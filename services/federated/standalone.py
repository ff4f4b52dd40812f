"""Federated learning in standalone: the same runs as the cluster's CronJobs, as the supervisor's jobs.

A federated model with a `schedule` is, in the cluster, a CronJob running `mlplat fl run --spec` on
the ConfigMap's run (infra/components/federated_learning.py). Here it is a `ScheduledJob` running the
same command on the same JSON, written under the platform's root; the run finds the standalone
registry and its users from `--root` and takes the new version through the gate to the model's
challenger (or its alias, without a canary). A model without a schedule is trained on demand:
`mlplat fl run --tenant T`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from blueprints.schema import Blueprint
from services.federated.launch import default_alias
from services.federated.spec import RunSpec
from services.standalone.scheduler import ScheduledJob

__all__ = ["StandaloneFederated", "federated_standalone", "spec_path", "KIND"]

KIND = "federated"  # ScheduledJob.kind: the demo's batch step leaves these alone


@dataclass(frozen=True)
class StandaloneFederated:
    schedules: list[ScheduledJob] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)  # to write before starting: each run's spec


def spec_path(root: Path, tenant: str, model: str) -> Path:
    return root / "federated" / f"{tenant}-{model}.json"


def federated_standalone(blueprint: Blueprint, root: Path, *, python: str = sys.executable) -> StandaloneFederated:
    pieces = StandaloneFederated()
    for tenant in blueprint.tenants:
        for model in tenant.models:
            if model.federated is None or model.federated.schedule is None:
                continue
            path = spec_path(root, tenant.name, model.name)
            pieces.files[path] = RunSpec.from_blueprint(tenant.name, model.name, model.federated).to_json()
            command = [python, "-m", "services.cli", "fl", "run", "--spec", str(path), "--root", str(root)]
            pieces.schedules.append(
                ScheduledJob(
                    name=f"federated-{tenant.name}-{model.name}",
                    schedule=model.federated.schedule,
                    command=[*command, "--alias", default_alias(model)],
                    timeout_seconds=model.federated.timeout_minutes * 60,
                    kind=KIND,
                )
            )
    return pieces
