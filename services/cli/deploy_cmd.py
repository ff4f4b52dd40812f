"""`mlplat up`, `down`, `status` and `standalone`: parse the arguments, pick a target, call it.

Where the platform goes and how is decided in services/deploy/ (the targets, the auto choice, the
capacity check); this module only turns the command line into a `Deployment` and `Options` for them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.deploy.target import DEFAULT_ROOT, Options
from services.deploy.targets import CHOICES


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="deploy the platform (kind when available, else standalone)")
    up.add_argument("--target", choices=CHOICES, default="auto", help="where to deploy [auto]")
    up.add_argument("--stack", default="dev", help="Pulumi stack (selects Pulumi.<stack>.yaml) [dev]")
    _standalone_arguments(up)
    sim = up.add_argument_group("sim target", "the fake node's size (default: this machine's, as kind's node is)")
    sim.add_argument("--node-cpus", type=int, help="CPUs of the sim cluster's node")
    sim.add_argument("--node-memory", help='memory of the sim cluster\'s node, a quantity such as "8Gi"')
    up.set_defaults(handler=_up)

    down = subparsers.add_parser("down", help="tear the platform down")
    down.add_argument("--target", choices=CHOICES, default="auto", help="what to tear down [auto]")
    down.add_argument("--stack", default="dev", help="Pulumi stack [dev]")
    down.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="standalone state folder [.mlplat]")
    down.add_argument("--blueprint", help="shipped name or path [the stack's blueprint]")
    down.add_argument(
        "--keep-registry", action="store_true", help="kind: keep the local registry and the images it holds"
    )
    down.set_defaults(handler=_down)

    standalone = subparsers.add_parser("standalone", help="run the platform as local processes (no Docker)")
    _standalone_arguments(standalone)
    standalone.set_defaults(handler=_up, target="standalone", stack="dev")

    status = subparsers.add_parser("status", help="show the running platform's components and models")
    status.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="state folder [.mlplat]")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--target",
        choices=CHOICES,
        default="auto",
        help="which platform to report: auto = the standalone one if it runs, else the sim cluster [auto]",
    )
    status.set_defaults(handler=_status, blueprint=None, stack="dev")


def _standalone_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="data, logs and config [.mlplat]")
    parser.add_argument("--port-offset", type=int, default=0, help="shift every port by N (run two side by side)")


def _deployment(args: argparse.Namespace):
    from services.deploy.selection import deployment

    return deployment(args.blueprint, args.stack, args.root)


def _up(args: argparse.Namespace) -> int:
    from services.deploy.targets import for_up

    options = Options(
        port_offset=args.port_offset,
        node_cpus=getattr(args, "node_cpus", None),
        node_memory=getattr(args, "node_memory", None),
    )
    target, why_not_kind = for_up(args.target, _deployment(args), options)
    if why_not_kind:
        print("kind path unavailable, starting the standalone platform instead:", file=sys.stderr)
        for problem in why_not_kind:
            print(f"  - {problem}", file=sys.stderr)
    target.up()
    return 0


def _down(args: argparse.Namespace) -> int:
    from services.deploy.targets import for_down

    for_down(args.target, _deployment(args), Options(keep_registry=args.keep_registry)).down()
    return 0


def _status(args: argparse.Namespace) -> int:
    from services.deploy.targets import for_status

    return 0 if for_status(args.target, _deployment(args)).status(as_json=args.json) else 1
