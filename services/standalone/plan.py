"""What standalone starts for a blueprint: a list of process specs, decided by a pure function.

`plan()` composes the standalone platform the way infra/platform.py's `Platform` composes the cluster:
one component at a time (services/standalone/components.py), each placed on the same site (folder,
ports, interpreter, PATH) and wired to the ones before it: model servers to the feature stores, the
batch runs to the Pushgateway, Alertmanager to the training trigger, Prometheus to every target.

The same generated monitoring config as the cluster (services.monitoring), with targets rewritten to
localhost. Ports come from `blueprints.naming.Ports`, shifted by an offset so two platforms (or a test
next to a developer's own) can run side by side. Beside the long-running processes, the plan lists the
blueprint's batch jobs and materializations as schedules the supervisor runs
(services/standalone/scheduler.py), with the CronJobs' own command lines.

The registry runs MLflow's authentication app, as in the cluster (ADR 0017): a one-shot step after
MLflow creates the registry's users and grants (`mlplat registry bootstrap`, the cluster's Job), and
every process signs in as its own user through a credentials file (services/registry/credentials.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from blueprints.schema import Blueprint
from services.standalone import components
from services.standalone.components import ACCESS_PLAN
from services.standalone.spec import (
    BINARY_NAMES,
    Part,
    Plan,
    ProcessSpec,
    Site,
    batch_data_dir,
    find_binary,
    oneshot,
    system_which,
)

__all__ = ["ProcessSpec", "Plan", "plan", "oneshot", "find_binary", "BINARY_NAMES", "batch_data_dir", "ACCESS_PLAN"]


def plan(
    blueprint: Blueprint,
    root: Path,
    *,
    port_offset: int = 0,
    which: Callable[[str], str | None] = system_which,
    python: str = sys.executable,
    webhook_key: str = "",
) -> Plan:
    """The processes for `blueprint`, with data under `root`, in the order they start."""
    site = Site(root.resolve(), port_offset, python, which)
    registry = components.registry(site, blueprint, webhook_key)
    gate = components.gate(site)
    features, stores = components.feature_stores(site, blueprint)
    servers = components.model_servers(site, blueprint, stores)
    llm = components.llm(site, blueprint)
    trigger, webhooks = components.training_trigger(site, blueprint)
    pushgateway, gateway = components.pushgateway(site)
    batch = components.batch_jobs(site, blueprint, gateway)
    materialization = components.materialization(site, blueprint, gateway)
    compliance = components.compliance_check(site, blueprint, gateway)
    federated = components.federated(site, blueprint)
    alertmanager, alerts = components.alertmanager(site, webhooks)
    scrape = {**registry.scrape, **servers.scrape, **llm.scrape, **trigger.scrape}
    prometheus = components.prometheus(site, blueprint, scrape, alerts, gateway)
    return _compose(
        site.root,
        [registry, gate, features, servers, llm, trigger, pushgateway, batch, materialization, federated, compliance]
        + [alertmanager, prometheus],
    )


def _compose(root: Path, parts: list[Part]) -> Plan:
    """One plan from the parts, in their order: processes start and schedules list in that order."""
    return Plan(
        root=root,
        processes=[process for part in parts for process in part.processes],
        skipped={name: why for part in parts for name, why in part.skipped.items()},
        files={path: text for part in parts for path, text in part.files.items()},
        schedules=[job for part in parts for job in part.schedules],
    )
