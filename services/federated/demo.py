"""The demo's federated step: a short federated run for each federated model, gated, then served.

For every model of the blueprint that is trained by federated learning, on the running standalone
platform: a short run (`SHORT_RUN`: 200 of the devices, 20 a round, 5 rounds, with the blueprint's
strategy, dropout, secure aggregation and privacy), logged to MLflow round by round and registered
as the tenant; approved and promoted to the model's alias through the gate, as the demo does for
centrally trained models; then the model server is asked to score the server's held-out rows with
it, and its answers are checked. The full run is `mlplat fl run --tenant <tenant>`.

`federated_demo` is the step; services/demo.py runs it (integration: ADR 0023's Consequences).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from blueprints.schema import Blueprint
from services.federated import data
from services.federated.launch import LaunchError, launch, resolve, standalone_target

__all__ = ["SHORT_RUN", "federated_demo", "DemoStepError"]

# A run short enough for a demo (about a minute); the population keeps 100 rows a device.
SHORT_RUN = {"devices": 200, "fraction_per_round": 0.1, "rounds": 5, "data": {"samples": 20_000}}


class DemoStepError(RuntimeError):
    pass


def federated_demo(
    blueprint: Blueprint, root: Path, say: Callable[[str], None] = print, approver: str = "platform-reviewer"
) -> list[dict]:
    """Run, gate and serve every federated model; returns what was done, one entry per model."""
    done = []
    for tenant in blueprint.tenants:
        for model in tenant.models:
            if model.federated is None:
                continue
            spec, _ = resolve(blueprint, tenant.name, model.name, SHORT_RUN)
            say(
                f"[federated] {tenant.name}/{model.name}: {spec.devices} devices, {spec.sampled} a round, "
                f"{spec.rounds} rounds, {spec.dropout_rate:.0%} dropping mid-round, "
                f"{'SecAgg+' if spec.secure_aggregation else 'plain aggregation'} "
                f"(the full run: mlplat fl run --tenant {tenant.name})"
            )
            target = standalone_target(root, tenant.name)
            if target is None:
                raise LaunchError(f"no standalone platform is running from {root}/: start it with `make up` first")
            version, decision = launch(
                spec, target, alias=model.alias, approver=approver, say=lambda line: say(f"    {line}")
            )
            if decision is None or not decision.passed:
                raise DemoStepError(f"the gate refused {model.name} v{version.version}; see the table above")
            server = _server_url(root, tenant.name)
            accuracy = _served_accuracy(server, model.name, version.version, spec.data) if server else None
            if accuracy is not None:
                say(f"    the model server serves version {version.version}: {accuracy:.1%} of 200 held-out rows right")
            done.append({"model": model.name, "version": version.version, "served_accuracy": accuracy})
    return done


def _server_url(root: Path, tenant: str) -> str | None:
    components = {c["name"]: c for c in json.loads((root / "standalone.json").read_text())["components"]}
    server = components.get(f"serving-{tenant}")
    return server["url"] if server else None


def _served_accuracy(server: str, model: str, version: str, data_spec, timeout: float = 90.0) -> float:
    """Wait until the server serves `version`, then score 200 of the server's held-out rows with it."""
    deadline = time.monotonic() + timeout
    while _served_version(server, model) != version:
        if time.monotonic() > deadline:
            raise DemoStepError(f"{model} version {version} was not served by {server} within {timeout:.0f} s")
        time.sleep(1)
    pool = data.generate(data_spec)
    rows, labels = pool.test_x[:200], pool.test_y[:200]
    body = {"dataframe_split": {"columns": data.feature_names(data_spec), "data": rows.tolist()}}
    request = urllib.request.Request(
        f"{server}/models/{model}/invocations", json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        predictions = json.load(response)["predictions"]
    return sum(int(p) == int(y) for p, y in zip(predictions, labels, strict=True)) / len(labels)


def _served_version(server: str, model: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{server}/v2/models/{model}", timeout=5) as response:
            return json.load(response)["parameters"]["variants"].get("champion", {}).get("version")
    except (urllib.error.URLError, KeyError, ValueError, OSError):
        return None
