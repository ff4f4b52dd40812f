"""`mlplat blueprint validate FILE...`: check blueprint files without Pulumi or a cluster."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("blueprint", help="work with blueprint files")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = actions.add_parser("validate", help="check blueprint files against the schema")
    validate.add_argument("files", nargs="+", metavar="FILE", help="a blueprint file or a shipped name")
    validate.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from blueprints import BlueprintError, load

    failed = 0
    for file in args.files:
        try:
            blueprint = load(file)
        except BlueprintError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        models = sum(len(t.models) for t in blueprint.tenants)
        print(f"{file}: ok ({len(blueprint.tenants)} tenants, {models} models)")
    return 1 if failed else 0
