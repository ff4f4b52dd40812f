"""`mlplat up` / `mlplat down`: deploy the platform to a target, or tear it down.

Targets:
  kind        a local kind cluster, deployed with Pulumi (needs docker, kind, pulumi, kubectl)
  auto        kind when its tools are all present; otherwise explain what is missing
"""

from __future__ import annotations

import argparse

from services.cli import CliError
from services.deploy.preflight import KIND_TOOLS, check_tools

TARGETS = ("auto", "kind")


def register(subparsers: argparse._SubParsersAction) -> None:
    for verb, helptext in (("up", "deploy the platform"), ("down", "tear the platform down")):
        parser = subparsers.add_parser(verb, help=helptext)
        parser.add_argument("--target", choices=TARGETS, default="auto", help="where to deploy [auto]")
        parser.add_argument("--stack", default="dev", help="Pulumi stack (selects Pulumi.<stack>.yaml) [dev]")
        parser.set_defaults(handler=_up if verb == "up" else _down)


def _kind_problems() -> list[str]:
    return [str(problem) for problem in check_tools(KIND_TOOLS)]


def _up(args: argparse.Namespace) -> int:
    problems = _kind_problems()
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise CliError(
            "the kind target needs docker, kind, pulumi and kubectl; missing or unusable:\n"
            f"{lines}\n"
            "Fix the lines above, or use a target that needs no Docker (see README: test layers)."
        )
    raise CliError("the kind deploy path is not part of this release yet: see docs/kind.md", code=3)


def _down(args: argparse.Namespace) -> int:
    return _up(args)
