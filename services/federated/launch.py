"""Launching a federated run on the platform: which model, which registry, as whom, and the gate.

`mlplat fl run` and the demo both come here. In order:
1. `resolve`: the blueprint's federated model for a tenant, as a `RunSpec` (with optional overrides
   for a short run, validated by the same schema as the blueprint);
2. `standalone_target`: on a running standalone platform, its MLflow and the registry users'
   credentials (ADR 0017): the run signs in as the tenant, the gate as the gate's user;
3. `launch`: the run (job.py), then the promotion gate for the model's alias, exactly as for a
   centrally trained version. Without the gate's credentials (a cluster Job signs in as its tenant
   only), the version is registered and left to `mlplat promote`, like any other.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from blueprints.schema import Blueprint, FederatedTraining, Model
from services.federated.job import FederatedVersion, train_federated
from services.federated.spec import RunSpec
from services.registry.access import GATE, tenant_user
from services.registry.credentials import (
    Credentials,
    CredentialsError,
    acting_as,
    credentials_file,
    read_credentials,
    standalone_credentials_dir,
)

__all__ = ["LaunchError", "Target", "resolve", "standalone_target", "default_alias", "launch"]


class LaunchError(RuntimeError):
    """Nothing to run, or nowhere to run it; the message says what to do."""


@dataclass(frozen=True)
class Target:
    tracking_uri: str | None  # None: MLFLOW_TRACKING_URI, as every MLflow client
    tenant: Credentials | None  # None: whoever the environment signs in as
    gate: Credentials | None  # None: no gate here (the version waits for `mlplat promote`)
    audit_log: Path | None


def resolve(
    blueprint: Blueprint, tenant: str, model: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[RunSpec, Model]:
    try:
        spec = blueprint.tenant(tenant)
    except KeyError:
        raise LaunchError(f"no tenant {tenant!r} in blueprint {blueprint.metadata.name!r}") from None
    federated = [m for m in spec.models if m.federated is not None]
    if model is not None:
        federated = [m for m in federated if m.name == model]
    if not federated:
        which = f"model {model!r}" if model else "a model"
        raise LaunchError(
            f"tenant {tenant!r} declares no federated {which} in blueprint {blueprint.metadata.name!r}: add "
            "`federated:` to one of its models (blueprints/federated.yaml shows one)"
        )
    if len(federated) > 1:
        raise LaunchError(f"tenant {tenant!r} has several federated models; name one with --model")
    chosen = federated[0]
    training = chosen.federated
    assert training is not None
    if overrides:
        merged = training.model_dump()
        for key, value in overrides.items():  # a nested section (data, localTraining) is merged, not replaced
            merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
        try:
            training = FederatedTraining.model_validate(merged)
        except ValidationError as exc:
            problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise LaunchError(f"{chosen.name} with {overrides}: {problems}") from None
    return RunSpec.from_blueprint(tenant, chosen.name, training), chosen


def standalone_target(root: Path, tenant: str) -> Target | None:
    """The running standalone platform under `root`, or None when none runs there."""
    state = root / "standalone.json"
    if not state.is_file():
        return None
    components = {c["name"]: c for c in json.loads(state.read_text())["components"]}
    if "mlflow" not in components:
        return None
    directory = standalone_credentials_dir(root)
    try:
        tenant_credentials = read_credentials(credentials_file(directory, tenant_user(tenant)))
        gate = read_credentials(credentials_file(directory, GATE))
    except CredentialsError as exc:
        raise LaunchError(f"standalone platform in {root}/: {exc}") from None
    return Target(components["mlflow"]["url"], tenant_credentials, gate, root / "audit" / "promotions.jsonl")


def default_alias(model: Model) -> str:
    """Where a new federated version goes: the challenger when the model has a canary (it then takes
    the canary's share of traffic, never the champion's without a person: ADR 0013), else the alias."""
    return model.challenger_alias if model.canary_weight else model.alias


def launch(
    spec: RunSpec,
    target: Target,
    *,
    alias: str | None,
    say: Callable[[str], None] = print,
    approver: str | None = None,
    python: Path | None = None,
):
    """Run, register, then (with the gate's credentials and an alias) promote through the gate.

    Returns (FederatedVersion, Decision or None). `approver` records an approval first (the demo's
    reviewer), which the champion alias requires.
    """
    import mlflow

    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import promote
    from services.promotion_gate.rules import load_rules

    if target.tracking_uri:
        mlflow.set_tracking_uri(target.tracking_uri)
    with acting_as(target.tenant) if target.tenant else contextlib.nullcontext():
        version: FederatedVersion = train_federated(spec, say=say, python=python)
    say(f"registered {version.model} version {version.version} (run {version.run_id}), owner {spec.tenant}")
    if target.gate is None or alias is None or target.audit_log is None:
        say(f"the gate is not run here: promote it with `mlplat promote {version.model} {version.version} --to ...`")
        return version, None
    client = registry.client(target.tracking_uri)
    with acting_as(target.gate):
        if approver:
            registry.approve(client, version.model, version.version, approver)
        decision = promote(
            client, load_rules(), AuditLog(target.audit_log), version.model, version.version, alias, actor="mlplat fl"
        )
    for line in decision.table().splitlines():
        say(line)
    return version, decision
