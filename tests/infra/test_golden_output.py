"""What the platform produces for every shipped blueprint, held against a recorded copy.

Two renderings of a blueprint are recorded in `tests/golden/`:
- the cluster's: every Kubernetes object the Pulumi program creates, as the SHA-256 of its canonical
  JSON (secrets masked) beside the Pulumi resource name that creates it;
- standalone's: the full process plan (commands, ports, environment, files, schedules) for a fixed
  root, interpreter and PATH.

A refactoring must leave both byte for byte the same; a change that means to alter them records the new
output on purpose: `MLPLAT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/infra/test_golden_output.py`,
and the diff of `tests/golden/` is then part of the review. A failure names each object that changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from blueprints import SHIPPED, load
from infra.render import render_blueprint
from services.standalone.plan import plan

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("MLPLAT_UPDATE_GOLDEN") == "1"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def cluster_rendering(name: str) -> dict[str, dict[str, str]]:
    """{"Kind/namespace/name": {"resource": Pulumi name, "sha256": digest of the object}} for a blueprint."""
    captured = render_blueprint(name, mask_secrets=True)
    out = {}
    for manifest in captured.manifests:
        meta = manifest.get("metadata", {})
        key = (manifest.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
        digest = hashlib.sha256(_canonical(manifest).encode()).hexdigest()
        out["/".join(key)] = {"resource": captured.urns[key], "sha256": digest}
    return dict(sorted(out.items()))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def standalone_rendering(name: str) -> dict[str, Any]:
    """The plan with every tool installed, and with none of them (ports shifted), for a fixed root."""
    blueprint = load(name)
    installed = plan(blueprint, Path("/ROOT"), which=lambda tool: f"/usr/bin/{tool}", python="/PY", webhook_key="KEY")
    bare = plan(blueprint, Path("/ROOT"), which=lambda tool: None, python="/PY", port_offset=7)
    return {"installed": _plain(installed), "no-monitoring-binaries": _plain(bare)}


def _check(path: Path, actual: dict[str, Any], update: bool = UPDATE) -> None:
    if update:
        path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    recorded = json.loads(path.read_text(encoding="utf-8"))
    if actual == recorded:
        return
    changed = sorted(k for k in recorded.keys() & actual.keys() if recorded[k] != actual[k])
    added, removed = sorted(actual.keys() - recorded.keys()), sorted(recorded.keys() - actual.keys())
    pytest.fail(
        f"{path.name} differs from the recorded output:\n  changed: {changed}\n  added: {added}\n"
        f"  removed: {removed}\n(an intended change: MLPLAT_UPDATE_GOLDEN=1 and review the diff of tests/golden/)",
        pytrace=False,
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_every_object_the_cluster_gets_is_exactly_the_recorded_one(name):
    _check(GOLDEN / f"{name}.cluster.json", cluster_rendering(name))


@pytest.mark.parametrize("name", SHIPPED)
def test_the_standalone_process_plan_is_exactly_the_recorded_one(name):
    _check(GOLDEN / f"{name}.standalone.json", standalone_rendering(name))


def test_the_check_catches_a_single_changed_field(tmp_path):
    """The comparison itself can fail: one field of one object changed is reported by its key."""
    actual = cluster_rendering("foundation")
    path = tmp_path / "foundation.cluster.json"
    path.write_text(json.dumps(actual))
    key = next(iter(actual))
    actual[key] = {**actual[key], "sha256": "0" * 64}
    with pytest.raises(pytest.fail.Exception, match=f"changed: \\['{key}'\\]"):
        _check(path, actual, update=False)
