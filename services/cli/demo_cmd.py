"""`mlplat demo`: walk the model lifecycle on the running platform, step by step (see services/demo/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from services.cli import CliError
from services.deploy.selection import selected_blueprint
from services.deploy.target import DEFAULT_ROOT


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="train, register, gate, serve, batch, drift, retrain: the whole lifecycle"
    )
    parser.add_argument("--blueprint", help="must match the running platform [the dev stack's blueprint]")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the running platform's folder [.mlplat]")
    parser.add_argument("--drift-timeout", type=float, default=240.0, help="seconds to wait for the alert [240]")
    parser.add_argument(
        "--retrain-timeout", type=float, default=300.0, help="seconds from the alert to the new challenger [300]"
    )
    parser.add_argument(
        "--target",
        choices=("auto", "standalone", "kind"),
        default="auto",
        help="the running platform: auto = standalone if one runs from --root, else the kind cluster [auto]",
    )
    parser.add_argument("--list", action="store_true", help="print the steps, in order, and exit")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from services.demo import STEPS, Demo, DemoError

    if args.list:
        for step in STEPS:
            print(f"{step.name:<11} {step.what}")
        return 0
    _, blueprint = selected_blueprint(args.blueprint)
    platform = None
    if args.target == "kind" or (args.target == "auto" and not (args.root / "standalone.json").is_file()):
        from services.demo.cluster import ClusterPlatform
        from services.deploy.tools import tool

        platform = ClusterPlatform(args.root, kubectl=tool("kubectl"))
    try:
        summary = Demo(
            blueprint,
            args.root,
            drift_timeout=args.drift_timeout,
            retrain_timeout=args.retrain_timeout,
            platform=platform,
        ).run()
    except DemoError as exc:
        raise CliError(str(exc), code=1) from None
    finally:
        if platform is not None:
            platform.close()
    retrained, erased = summary["retrain"], summary["erasure"]
    print(
        f"\nDone: {len(summary['promoted'])} champions serve {summary['answers']} checked answers, "
        f"{len(summary['batch'])} batch job(s) ran"
        + (", the drift alert fired" if summary["drift_alert"] else "")
        + (f", version {retrained['version']} was retrained, gated and serves as the challenger" if retrained else "")
        + "".join(
            f", {e['subject']} was erased from {e['tenant']} and the gate refuses {e['model']} v{e['version']}"
            for e in erased
        )
        + "."
    )
    return 0
