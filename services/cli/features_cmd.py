"""`mlplat features apply|materialize|serve|repo`: a tenant's Feast repository (services/features/).

The repository is generated from the blueprint (`mlplat features repo --blueprint B --tenant T OUT`
writes it, standalone and the cluster do it for you); `apply` registers it, `materialize` copies the
newest values into the online store (the schedule's command, pushing its metrics when
MLPLAT_PUSHGATEWAY is set), `serve` runs Feast's own feature server on it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("features", help="the feature store: apply, materialize, serve a Feast repository")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    apply = actions.add_parser("apply", help="register the repository's definitions and create the online tables")
    apply.add_argument("--repo", type=Path, required=True, help="the generated Feast repository")
    apply.set_defaults(handler=_apply)

    materialize = actions.add_parser(
        "materialize", help="apply, then copy the newest feature values into the online store (incremental)"
    )
    materialize.add_argument("--repo", type=Path, required=True, help="the generated Feast repository")
    materialize.add_argument("--tenant", required=True, help="whose project (the metrics' tenant label)")
    materialize.add_argument("--schedule", help="the run's cron schedule (for the late-materialization alert)")
    materialize.add_argument("--pushgateway", default=None, help="push the run's metrics here [MLPLAT_PUSHGATEWAY]")
    materialize.set_defaults(handler=_materialize)

    serve = actions.add_parser("serve", help="Feast's feature server (`feast serve`, one worker) on the repository")
    serve.add_argument("--repo", type=Path, required=True)
    serve.add_argument("--host", default="127.0.0.1", help="[127.0.0.1]")
    serve.add_argument("--port", type=int, default=6566, help="[6566]")
    serve.set_defaults(handler=_serve)

    repo = actions.add_parser("repo", help="write a tenant's Feast repository, generated from the blueprint")
    repo.add_argument("out", type=Path, help="the folder to write feature_store.yaml and features.py into")
    repo.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    repo.add_argument("--tenant", required=True)
    repo.add_argument("--root", type=Path, default=Path(".mlplat"), help="standalone's data folder [.mlplat]")
    repo.set_defaults(handler=_repo)


def _apply(args: argparse.Namespace) -> int:
    from services.features.store import FeatureStoreError, apply

    try:
        apply(args.repo)
    except FeatureStoreError as exc:
        raise CliError(str(exc), code=1) from None
    print(f"applied {args.repo}")
    return 0


def _materialize(args: argparse.Namespace) -> int:
    from blueprints.cron import CronError, parse_cron
    from services.features.store import FeatureStoreError, apply, materialize

    interval = None
    if args.schedule:
        try:
            interval = parse_cron(args.schedule).max_interval_seconds
        except CronError as exc:
            raise CliError(f"--schedule {args.schedule!r}: {exc}") from None
    gateway = args.pushgateway or os.environ.get("MLPLAT_PUSHGATEWAY")
    try:
        apply(args.repo)
        done = materialize(args.repo, tenant=args.tenant, pushgateway=gateway, schedule_seconds=interval)
    except FeatureStoreError as exc:
        raise CliError(str(exc), code=1) from None
    views = ", ".join(done.views)
    print(f"materialized {views} of {args.tenant} up to {done.until:%Y-%m-%dT%H:%M:%SZ} in {done.seconds:.1f}s")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from services.features.store import serve_command

    if not (args.repo / "feature_store.yaml").is_file():
        raise CliError(f"--repo {args.repo}: no feature_store.yaml there")
    command = serve_command(args.repo, args.host, args.port)
    os.execv(command[0], command)  # Feast's server takes this process over
    return 0  # pragma: no cover


def _repo(args: argparse.Namespace) -> int:
    from services.deploy.selection import selected_blueprint
    from services.features.repo import feature_repo, standalone_store, write_repo

    _, blueprint = selected_blueprint(args.blueprint)
    try:
        tenant = blueprint.tenant(args.tenant)
    except KeyError:
        raise CliError(f"--tenant {args.tenant}: no such tenant in blueprint {blueprint.metadata.name!r}") from None
    if tenant.features is None:
        raise CliError(f"tenant {args.tenant!r} declares no features in blueprint {blueprint.metadata.name!r}")
    folder = write_repo(feature_repo(tenant, standalone_store(args.root, tenant.name)), args.out)
    print(f"wrote {folder}/feature_store.yaml and {folder}/features.py")
    return 0
