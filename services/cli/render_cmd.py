"""`mlplat render`: write the manifests the Pulumi program would create, without a cluster.

Runs the real program under Pulumi's mocks (see infra/render.py) and writes one YAML file per
object, one folder per namespace, so a reader can see and diff exactly what would be applied.
Generated secrets are masked.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("render", help="write the Kubernetes manifests a blueprint produces")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--blueprint", help="a shipped blueprint's name or a path to a blueprint file")
    which.add_argument("--all", action="store_true", help="every shipped blueprint, one folder each")
    parser.add_argument("--out", default="build/manifests", help="output folder (replaced) [build/manifests]")
    parser.set_defaults(handler=_render)


def _render(args: argparse.Namespace) -> int:
    from blueprints import SHIPPED, BlueprintError, load

    names = list(SHIPPED) if args.all else [args.blueprint]
    out = Path(args.out)
    for name in names:
        try:
            blueprint = load(name)
        except BlueprintError as exc:
            raise CliError(str(exc)) from None
        from infra.render import render_blueprint, write_manifests

        captured = render_blueprint(name, mask_secrets=True)
        target = out / blueprint.metadata.name if args.all else out
        if target.exists():
            shutil.rmtree(target)
        written = write_manifests(captured.manifests, target)
        print(f"{name}: {len(written)} objects -> {target}/")
    return 0
