"""Run the Pulumi program under mocks and capture every Kubernetes object it would create.

This is the offline half of the infra tests and the engine behind `make render`: the real
`infra/__main__.py` runs, with stack config passed the way Pulumi passes it, but resource
registrations go to an in-memory mock instead of a cluster. What comes out is a list of plain
manifests (dicts), normalised the way the API server would see them:
- numbers that Pulumi's wire format turned into floats become ints again;
- secret values are unwrapped (or masked, for files a human reads).
"""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

__all__ = ["Captured", "render_blueprint", "write_manifests", "PROJECT", "MASK"]

PROJECT = "mlops-platform"
MASK = "<generated-at-deploy-time>"
_PROGRAM = Path(__file__).resolve().parent / "__main__.py"
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire signature for a secret value


@dataclass
class Captured:
    """Everything the program registered, split into Kubernetes objects and the rest."""

    manifests: list[dict[str, Any]] = field(default_factory=list)
    # (type token, resource name) of providers and ComponentResources, for architecture tests
    others: list[tuple[str, str]] = field(default_factory=list)
    # Kubernetes object key (kind, namespace, name) -> Pulumi resource name and type
    urns: dict[tuple[str, str, str], str] = field(default_factory=dict)


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, captured: Captured, mask_secrets: bool):
        self.captured = captured
        self.mask = mask_secrets

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ.startswith("kubernetes:") and args.custom:
            manifest = _normalise(args.inputs, self.mask)
            self.captured.manifests.append(manifest)
            meta = manifest.get("metadata", {})
            key = (manifest.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
            self.captured.urns[key] = args.name
        else:
            self.captured.others.append((args.typ, args.name))
        return [f"{args.name}-id", args.inputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _normalise(value: Any, mask: bool) -> Any:
    if isinstance(value, dict):
        if _SECRET_SIG in value:
            inner = _normalise(value.get("value"), mask)
            return _mask_leaves(inner) if mask else inner
        return {k: _normalise(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, mask) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _mask_leaves(value: Any) -> Any:
    """Keep a secret's shape (its keys), hide every value."""
    if isinstance(value, dict):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    return MASK


def render_blueprint(
    blueprint: str | Path,
    *,
    stack: str = "dev",
    kube_context: str | None = "kind-mlops",
    mask_secrets: bool = False,
    config: Mapping[str, str] | None = None,
) -> Captured:
    """Run `infra/__main__.py` for a blueprint (shipped name or path) and capture what it creates.

    `config` adds stack config keys ("mlops-platform:metricsServer": "false", ...)."""
    captured = Captured()
    config = {f"{PROJECT}:blueprint": str(blueprint), **(config or {})}
    if kube_context is not None:
        config[f"{PROJECT}:kubeContext"] = kube_context
    previous = os.environ.get("PULUMI_CONFIG")
    os.environ["PULUMI_CONFIG"] = json.dumps(config)  # exactly how the Pulumi CLI passes stack config
    try:
        pulumi.runtime.set_mocks(_Mocks(captured, mask_secrets), project=PROJECT, stack=stack, preview=False)
        pulumi.runtime.set_all_config(config)

        @pulumi.runtime.test
        def _run() -> None:
            runpy.run_path(str(_PROGRAM), run_name="__main__")

        _run()
    finally:
        if previous is None:
            os.environ.pop("PULUMI_CONFIG", None)
        else:
            os.environ["PULUMI_CONFIG"] = previous
    return captured


_TOP = ("apiVersion", "kind", "metadata", "spec", "data", "stringData")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _reader_order(manifest: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata, spec first (as people write them), the rest sorted."""
    ordered = {k: _sorted(manifest[k]) for k in _TOP if k in manifest}
    ordered.update({k: _sorted(v) for k, v in sorted(manifest.items()) if k not in ordered})
    return ordered


def write_manifests(manifests: list[dict[str, Any]], out: Path) -> list[Path]:
    """Write one YAML file per object, one folder per namespace (`_cluster/` for cluster-scoped)."""
    written = []
    for manifest in manifests:
        meta = manifest.get("metadata", {})
        folder = out / (meta.get("namespace") or "_cluster")
        folder.mkdir(parents=True, exist_ok=True)
        name = meta.get("name", "unnamed").replace(":", "_")
        path = folder / f"{manifest.get('kind', 'Object').lower()}-{name}.yaml"
        path.write_text(yaml.safe_dump(_reader_order(manifest), sort_keys=False), encoding="utf-8")
        written.append(path)
    return written
