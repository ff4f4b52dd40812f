"""`mlplat train` (one training run) and `mlplat trigger serve` (the continuous-training trigger).

Examples:
  mlplat train iris --tenant data-science --entry-point services.training.iris:train
  mlplat train iris --tenant data-science --project services/training/projects/iris
  mlplat trigger serve --blueprint foundation --port 8095      # Alertmanager posts to /alerts
See docs/batch.md and ADR 0013.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="one training run: log and register a version with what the promotion gate checks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", help="the registered model name")
    train.add_argument("--tenant", required=True, help="the owning team (the version's owner tag)")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--entry-point", help="package.module:function returning a TrainingResult")
    source.add_argument("--project", help="an MLflow Project (a directory or git URI)")
    train.add_argument("--project-entry", default="main", help="the project's entry point [main]")
    train.add_argument("--flavor", default="sklearn", help="MLflow flavor to log the model with [sklearn]")
    train.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI]")
    train.set_defaults(handler=_train)

    trigger = subparsers.add_parser("trigger", help="continuous training: drift alerts and schedules start runs")
    actions = trigger.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="receive Alertmanager webhooks, run schedules, gate new versions")
    targets = serve.add_mutually_exclusive_group(required=True)
    targets.add_argument("--blueprint", help="train the models this blueprint declares training for")
    targets.add_argument("--targets", type=Path, help="the same, as JSON (what the cluster's ConfigMap holds)")
    serve.add_argument("--launcher", choices=("subprocess", "kubernetes"), default="subprocess", help="[subprocess]")
    serve.add_argument("--host", default="127.0.0.1", help="[127.0.0.1]")
    serve.add_argument("--port", type=int, default=8095, help="[8095]")
    serve.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI]")
    serve.add_argument("--audit-log", type=Path, default=None, help="[.mlplat/audit/promotions.jsonl]")
    serve.add_argument("--rules", type=Path, default=None, help="promotion rules [policies/promotion/rules.yaml]")
    serve.add_argument("--log-dir", type=Path, default=Path(".mlplat/logs"), help="subprocess runs' logs")
    serve.add_argument(
        "--credentials-dir",
        type=Path,
        help="subprocess runs sign in to the registry as their tenant, from <dir>/<tenant>.ini (standalone)",
    )
    serve.set_defaults(handler=_serve)


def _train(args: argparse.Namespace) -> int:
    from services.training.command import RUN_ID_ENV, TRIGGER_ENV
    from services.training.runner import TrainingError, load_entry_point, train_entry_point, train_project

    if args.entry_point:
        try:
            load_entry_point(args.entry_point)  # a typo fails here, before a run is created
        except TrainingError as exc:
            raise CliError(str(exc)) from None
    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    run_id = os.environ.get(RUN_ID_ENV) or None
    trigger = os.environ.get(TRIGGER_ENV) or "manual"
    try:
        if args.entry_point:
            trained = train_entry_point(
                args.entry_point,
                model=args.model,
                tenant=args.tenant,
                flavor=args.flavor,
                trigger=trigger,
                run_id=run_id,
            )
        else:
            trained = train_project(
                args.project, args.project_entry, model=args.model, tenant=args.tenant, trigger=trigger, run_id=run_id
            )
    except TrainingError as exc:
        raise CliError(str(exc), code=1) from None
    print(trained.json(), flush=True)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import default_audit_path
    from services.promotion_gate.rules import DEFAULT_RULES, RuleFileError, load_rules
    from services.training.launcher import KubernetesJobLauncher, LaunchError, SubprocessLauncher
    from services.training.service import MlflowRegistry, TriggerApp, TriggerService
    from services.training.targets import targets_from_json, training_targets

    if args.blueprint:
        from services.deploy.selection import selected_blueprint

        targets = training_targets(selected_blueprint(args.blueprint)[1])
    else:
        try:
            targets = targets_from_json(args.targets.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CliError(f"{args.targets}: not a training targets file ({exc})") from None
    if not targets:
        print("no model declares training: the trigger has nothing to do but answer", file=sys.stderr, flush=True)
    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        raise CliError("set MLFLOW_TRACKING_URI or --tracking-uri: the trigger creates runs and gates versions there")
    try:
        rules = load_rules(args.rules or DEFAULT_RULES)
    except RuleFileError as exc:
        raise CliError(str(exc)) from None
    if args.launcher == "kubernetes":
        try:
            launcher = KubernetesJobLauncher.in_cluster()
        except LaunchError as exc:
            raise CliError(str(exc)) from None
    else:
        launcher = SubprocessLauncher(
            args.log_dir, env={"MLFLOW_TRACKING_URI": tracking_uri}, credentials_dir=args.credentials_dir
        )
    audit = AuditLog(args.audit_log or Path(os.environ.get("MLPLAT_AUDIT_LOG", default_audit_path())))
    client = registry.client(tracking_uri)
    app = TriggerApp(TriggerService(targets, launcher, MlflowRegistry(client, rules, audit), audit))
    print(f"training trigger for {', '.join(t.label for t in targets) or 'no models'} on {args.host}:{args.port}")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        app.close()
    return 0
