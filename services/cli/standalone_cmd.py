"""`mlplat standalone` (run the platform as local processes) and `mlplat status`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from services.cli import CliError

DEFAULT_ROOT = Path(".mlplat")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("standalone", help="run the platform as local processes (no Docker)")
    add_standalone_arguments(parser)
    parser.set_defaults(handler=run_standalone)

    status = subparsers.add_parser("status", help="show the running platform's components and models")
    status.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="state folder [.mlplat]")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--target",
        choices=("auto", "standalone", "sim"),
        default="auto",
        help="which platform to report: auto = the standalone one if it runs, else the sim cluster [auto]",
    )
    status.set_defaults(handler=_status)


def add_standalone_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="data, logs and config [.mlplat]")
    parser.add_argument("--port-offset", type=int, default=0, help="shift every port by N (run two side by side)")


def stack_blueprint(stack: str = "dev") -> str:
    """The blueprint the Pulumi stack selects, so standalone and the cluster run the same platform."""
    import yaml

    path = Path(__file__).resolve().parents[2] / f"Pulumi.{stack}.yaml"
    if path.is_file():
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config", {})
        if config.get("mlops-platform:blueprint"):
            return str(config["mlops-platform:blueprint"])
    return "multi-tenant"


def selected_blueprint(name: str | None, stack: str = "dev"):
    """(name, Blueprint) for a command's --blueprint, defaulting to the stack's; errors are CliErrors."""
    from blueprints import BlueprintError, load

    name = name or stack_blueprint(stack)
    try:
        return name, load(name, base=Path(__file__).resolve().parents[2])
    except BlueprintError as exc:
        raise CliError(str(exc)) from None


def run_standalone(args: argparse.Namespace) -> int:
    from services.standalone.plan import plan
    from services.standalone.supervisor import StartupError, Supervisor

    _, blueprint = selected_blueprint(args.blueprint)
    if not 0 <= args.port_offset < 20000:
        raise CliError(f"--port-offset {args.port_offset}: use 0 to 19999")
    from services.local_secrets import fernet_key, read_or_create

    webhook_key, _ = read_or_create(args.root / "mlflow-webhook-key", fernet_key)
    _registry_credentials(blueprint, args.root)
    supervisor = Supervisor(plan(blueprint, args.root, port_offset=args.port_offset, webhook_key=webhook_key))
    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    print(f"mlops-platform standalone: blueprint {blueprint.metadata.name}, data in {args.root}/", flush=True)
    try:
        supervisor.start()
        print(
            f"\nall healthy in {time.monotonic() - started:.1f}s:\n{supervisor.url_table()}\nCtrl-C stops everything.",
            flush=True,
        )
        while not stopping:
            supervisor.tick()  # the blueprint's batch schedules
            dead = supervisor.failed()
            if dead:
                print(
                    f"mlplat: {', '.join(dead)} stopped unexpectedly; see {args.root}/logs/. Stopping.",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            time.sleep(0.5)
        return 0
    except StartupError as exc:
        raise CliError(str(exc), code=1) from None
    finally:
        supervisor.stop()


def _registry_credentials(blueprint, root: Path) -> None:
    """One owner-only credentials file per registry user, generated once (ADR 0017)."""
    from services.registry.access import ADMIN, MONITORING, access_plan
    from services.registry.credentials import ensure_credentials, password_file, standalone_credentials_dir

    try:
        users = access_plan(blueprint, None).users
    except ValueError as exc:
        raise CliError(str(exc)) from None
    directory = standalone_credentials_dir(root)
    for user in (ADMIN, *users):
        credentials = ensure_credentials(directory, user)
        if user == MONITORING:  # Prometheus reads a bare password file
            password_file(directory, credentials)


def _sim_running(root: Path) -> bool:
    from services.engine.sim import SimLayout, running

    return running(SimLayout(root.resolve() / "sim")) is not None


def _probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _served(component: dict) -> list[dict]:
    """What a model server serves right now: each model's variants and their versions."""
    out = []
    for model in component.get("models", []):
        try:
            with urllib.request.urlopen(f"{component['url']}/v2/models/{model}", timeout=2) as response:
                meta = json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            out.append({"model": model, "variants": {}})
            continue
        variants = {name: v["version"] for name, v in meta["parameters"]["variants"].items()}
        out.append({"model": model, "variants": variants, "challenger_weight": meta["parameters"]["challenger_weight"]})
    return out


def _status(args: argparse.Namespace) -> int:
    state_path = args.root / "standalone.json"
    if args.target == "sim" or (args.target == "auto" and not state_path.is_file() and _sim_running(args.root)):
        from services.cli.sim_cmd import sim_status

        return sim_status(args.root, as_json=args.json)
    if not state_path.is_file():
        raise CliError(f"no standalone platform is running from {args.root}/ (start one with `make up`)", code=1)
    state = json.loads(state_path.read_text(encoding="utf-8"))
    rows = []
    for component in state["components"]:
        row = {**component, "healthy": _probe(component["health"])}
        if component.get("models"):
            row["served"] = _served(component)
        rows.append(row)
    if args.json:
        print(
            json.dumps(
                {"components": rows, "skipped": state.get("skipped", {}), "schedules": state.get("schedules", [])},
                indent=2,
            )
        )
    else:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            print(f"{row['name']:<{width}}  {'healthy' if row['healthy'] else 'DOWN':<8} {row['url']}")
            for served in row.get("served", []):
                variants = ", ".join(f"{variant} v{version or '-'}" for variant, version in served["variants"].items())
                print(f"{'':<{width}}    {served['model']}: {variants or 'not loaded yet'}")
        for name, why in state.get("skipped", {}).items():
            print(f"{name:<{width}}  skipped  {why}")
        for job in state.get("schedules", []):
            when = f"schedule {job['schedule']!r}, next run {job['next_run_utc']} UTC"
            print(f"{job.get('kind', 'batch')} {job['name']}: {when}, log {job['log']}")
    return 0 if all(r["healthy"] for r in rows) else 1
