"""`mlplat up` / `mlplat down`: deploy the platform to a target, or tear it down.

Targets:
  kind        a local kind cluster deployed with Pulumi (needs docker, kind, pulumi, kubectl)
  standalone  the same services as local processes, in the foreground (needs nothing but Python)
  sim         a container-less control plane with kwok-simulated pods, deployed with the real `pulumi up`
              (needs the toolchain `make toolchain` builds; docs/engine.md)
  auto        kind when all of its tools are present and working, otherwise standalone (the default)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from services.cli import CliError
from services.cli.standalone_cmd import DEFAULT_ROOT, add_standalone_arguments, run_standalone
from services.deploy.preflight import KIND_TOOLS, check_tools

TARGETS = ("auto", "kind", "standalone", "sim")


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser("up", help="deploy the platform (kind when available, else standalone)")
    up.add_argument("--target", choices=TARGETS, default="auto", help="where to deploy [auto]")
    up.add_argument("--stack", default="dev", help="Pulumi stack (selects Pulumi.<stack>.yaml) [dev]")
    add_standalone_arguments(up)
    sim = up.add_argument_group("sim target", "the fake node's size (default: this machine's, as kind's node is)")
    sim.add_argument("--node-cpus", type=int, help="CPUs of the sim cluster's node")
    sim.add_argument("--node-memory", help='memory of the sim cluster\'s node, a quantity such as "8Gi"')
    up.set_defaults(handler=_up)

    down = subparsers.add_parser("down", help="tear the platform down")
    down.add_argument("--target", choices=TARGETS, default="auto", help="what to tear down [auto]")
    down.add_argument("--stack", default="dev", help="Pulumi stack [dev]")
    down.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="standalone state folder [.mlplat]")
    down.add_argument("--blueprint", help="shipped name or path [the stack's blueprint]")
    down.set_defaults(handler=_down)


def choose_target(requested: str, problems: list[str]) -> str:
    """auto -> kind when its tools are all usable, otherwise standalone."""
    if requested != "auto":
        return requested
    return "standalone" if problems else "kind"


def _kind_problems() -> list[str]:
    return [str(problem) for problem in check_tools(KIND_TOOLS)]


def _up(args: argparse.Namespace) -> int:
    if args.target == "sim":  # the container-less control plane: services/cli/sim_cmd.py
        from services.cli.sim_cmd import sim_up

        return sim_up(args)
    problems = _kind_problems() if args.target in ("auto", "kind") else []
    target = choose_target(args.target, problems)
    if target == "standalone":
        if args.target == "auto":
            print("kind path unavailable, starting the standalone platform instead:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
        return run_standalone(args)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise CliError(
            f"the kind target needs docker, kind, pulumi and kubectl; missing or unusable:\n{lines}\n"
            "Fix the lines above, or run `mlplat up --target standalone` (no Docker needed)."
        )
    return kind_up(args)


def _down(args: argparse.Namespace) -> int:
    if args.target == "sim":  # the container-less control plane: services/cli/sim_cmd.py
        from services.cli.sim_cmd import sim_down

        return sim_down(args)
    state = args.root / "standalone.json"
    if args.target == "standalone" or (args.target == "auto" and state.is_file()):
        return stop_standalone(args.root)
    problems = _kind_problems()
    if problems:
        raise CliError("nothing to tear down: no standalone platform is running and the kind tools are missing")
    return kind_down(args)


def _kind_context(args: argparse.Namespace):
    from services.cli.standalone_cmd import selected_blueprint
    from services.deploy.kind import KindDeploy

    name, blueprint = selected_blueprint(args.blueprint, args.stack)
    return name, blueprint, KindDeploy(blueprint)


def kind_up(args: argparse.Namespace) -> int:
    """Cluster (created or reused) -> image built and loaded -> `pulumi up` -> wait -> URLs.

    Running it twice is safe: an existing cluster is reused, the image load replaces the image,
    and `pulumi up` of an unchanged blueprint changes nothing.
    """
    from infra import automation
    from infra.render import render_blueprint
    from policies.deploy.plugin import gate as policy_gate
    from services.deploy.capacity import requests_of
    from services.deploy.kind import URLS, CommandFailed

    name, blueprint, deploy = _kind_context(args)
    try:
        requested = requests_of(render_blueprint(name).manifests)
        deploy.check_docker_memory(requested.memory_bytes)
        deploy.check_docker_cpus(requested)
        deploy.ensure_cluster()
        deploy.build_and_load_image()
        settings = automation.deploy_settings(args.stack, kube_context=deploy.context, blueprint=args.blueprint or None)
        gate = policy_gate(blueprint.platform.policy, args.root / "policy")
        print(f"pulumi up: stack {args.stack}, blueprint {name}, context {deploy.context}, policy pack on", flush=True)
        automation.up(settings, on_output=lambda line: print(line, end="" if line.endswith("\n") else "\n"), gate=gate)
        deploy.wait_ready(deploy.namespaces())
    except CommandFailed as exc:
        raise CliError(str(exc), code=1) from None
    except Exception as exc:
        if type(exc).__module__.startswith("pulumi.automation"):
            raise CliError(
                f"pulumi up failed:\n{exc}\n-> fix the error above and run `make up` again "
                "(it resumes where it stopped)",
                code=1,
            ) from None
        raise
    print("\nThe platform is up:")
    for label, url in URLS.items():
        print(f"  {label:<16} {url}")
    print("\nNext: `kubectl --context kind-mlops get pods -A`, `mlplat cost`, `make down` to tear it all down.")
    return 0


def kind_down(args: argparse.Namespace) -> int:
    """`pulumi destroy`, then delete the kind cluster."""
    from infra import automation
    from services.deploy.kind import CommandFailed

    _, _, deploy = _kind_context(args)
    settings = automation.deploy_settings(args.stack, kube_context=deploy.context)
    try:
        automation.destroy(settings, on_output=lambda line: print(line, end="" if line.endswith("\n") else "\n"))
        deploy.delete_cluster()
    except CommandFailed as exc:
        raise CliError(str(exc), code=1) from None
    print("kind cluster and stack removed")
    return 0


def stop_standalone(root: Path, timeout: float = 30.0) -> int:
    """Ask a running `mlplat standalone` to stop (SIGTERM) and wait until it has cleaned up."""
    state_path = root / "standalone.json"
    if not state_path.is_file():
        print(f"no standalone platform is running from {root}/")
        return 0
    pid = json.loads(state_path.read_text(encoding="utf-8"))["supervisor_pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state_path.unlink(missing_ok=True)
        print("the standalone supervisor was already gone; removed its stale state file")
        return 0
    deadline = time.monotonic() + timeout
    while state_path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    if state_path.exists():
        raise CliError(f"the standalone supervisor (pid {pid}) did not stop within {timeout:.0f}s", code=1)
    print("standalone platform stopped")
    return 0
