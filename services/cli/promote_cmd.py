"""`mlplat promote`, `mlplat approve` and `mlplat audit verify`: the model promotion gate."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    promote = subparsers.add_parser("promote", help="evaluate the promotion rules and move an alias on a pass")
    promote.add_argument("model", help="registered model name")
    promote.add_argument("version", help="model version to promote")
    promote.add_argument("--to", dest="alias", default="champion", help="alias to move [champion]")
    promote.add_argument("--dry-run", action="store_true", help="evaluate and print only; record nothing")
    promote.add_argument(
        "--blueprint", default=None, help="for an LLM: the blueprint whose limits it is held to [the dev stack's]"
    )
    _common(promote)
    promote.set_defaults(handler=_promote)

    approve = subparsers.add_parser("approve", help="record an approval of a model version")
    approve.add_argument("model")
    approve.add_argument("version")
    approve.add_argument("--as", dest="approver", required=True, help="who approves (not the model's author)")
    approve.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI]")
    approve.set_defaults(handler=_approve)

    gate = subparsers.add_parser("gate", help="the promotion gate's MLflow webhook receiver")
    gate_actions = gate.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = gate_actions.add_parser("serve", help="receive MLflow registry webhooks: evaluate versions, guard aliases")
    serve.add_argument("--host", default="127.0.0.1", help="[127.0.0.1]")
    serve.add_argument("--port", type=int, default=8090, help="[8090]")
    serve.add_argument(
        "--register",
        action="store_true",
        help="create the webhook in MLflow, pointing at --public-url (default: this address)",
    )
    serve.add_argument("--public-url", default=None, help="the URL MLflow calls [http://HOST:PORT/webhooks/mlflow]")
    _common(serve)
    serve.set_defaults(handler=_gate_serve)

    audit = subparsers.add_parser("audit", help="the promotion audit log")
    audit_actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = audit_actions.add_parser("verify", help="check the audit log's hash chain")
    verify.add_argument("--audit-log", type=Path, default=None, help="[.mlplat/audit/promotions.jsonl]")
    verify.set_defaults(handler=_verify)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", type=Path, default=None, help="rule file [policies/promotion/rules.yaml]")
    parser.add_argument("--audit-log", type=Path, default=None, help="[.mlplat/audit/promotions.jsonl]")
    parser.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI]")


def _audit_path(value: Path | None) -> Path:
    from services.promotion_gate.gate import default_audit_path

    return value or Path(os.environ.get("MLPLAT_AUDIT_LOG", default_audit_path()))


def _promote(args: argparse.Namespace) -> int:
    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import promote
    from services.promotion_gate.rules import DEFAULT_RULES, RuleFileError, load_rules

    try:
        rules = load_rules(args.rules or DEFAULT_RULES)
        decision = promote(
            registry.client(args.tracking_uri),
            rules,
            AuditLog(_audit_path(args.audit_log)),
            args.model,
            args.version,
            args.alias,
            dry_run=args.dry_run,
            limits=_llm_limits(args.blueprint, args.model),
        )
    except RuleFileError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException):  # RestException too: e.g. no such model version
            raise CliError(f"registry: {exc}") from None
        raise
    print(decision.table())
    return 0 if decision.passed else 1


def _llm_limits(blueprint_name: str | None, model: str) -> dict[str, float]:
    """An LLM's limits from the blueprint (the gate uses them only for LLM versions); empty otherwise."""
    from blueprints.schema.llm import llm_models
    from services.deploy.selection import selected_blueprint

    _, blueprint = selected_blueprint(blueprint_name)
    found = llm_models(blueprint.tenants).get(model)
    return found[2].limits.model_dump() if found else {}


def _approve(args: argparse.Namespace) -> int:
    from services.promotion_gate import registry

    registry.approve(registry.client(args.tracking_uri), args.model, args.version, args.approver)
    print(f"{args.approver} approved {args.model} version {args.version}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from services.promotion_gate.audit import AuditError, AuditLog

    log = AuditLog(_audit_path(args.audit_log))
    try:
        count = log.verify()
    except AuditError as exc:
        raise CliError(f"audit log tampered: {exc}", code=1) from None
    print(f"{log.path}: {count} decisions, hash chain intact")
    return 0


def _gate_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.rules import DEFAULT_RULES, RuleFileError, load_rules
    from services.promotion_gate.webhooks import (
        SECRET_ENV,
        SECRET_FILE_ENV,
        WebhookReceiver,
        register_webhooks,
        secret_from_env,
    )

    secret = secret_from_env()
    if not secret:
        raise CliError(
            f"set {SECRET_ENV} (or {SECRET_FILE_ENV}): MLflow signs every delivery with it "
            "and unsigned ones are refused"
        )
    try:
        rules = load_rules(args.rules or DEFAULT_RULES)
    except RuleFileError as exc:
        raise CliError(str(exc)) from None
    client = registry.client(args.tracking_uri)
    receiver = WebhookReceiver(client, rules, AuditLog(_audit_path(args.audit_log)), secret)
    if args.register:
        url = args.public_url or f"http://{args.host}:{args.port}/webhooks/mlflow"
        register_webhooks(client, url, secret)
        print(f"registered MLflow webhook -> {url}", flush=True)
    try:
        uvicorn.run(receiver, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        receiver.close()
    return 0
