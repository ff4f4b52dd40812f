"""`mlplat compliance report`: evaluate the compliance controls (policies/compliance/) and write the report.

    mlplat compliance report --framework soc2|hipaa|gdpr|all [--blueprint B]
        [--manifests DIR... | --live] [--registry URI] [--audit-log FILE] [--opa-url URL]
        [--out DIR] [--push-gateway URL]

The objects come from the blueprint's rendered manifests (the default: the Pulumi program under mocks,
no cluster), from YAML files (`--manifests`, e.g. `make render`'s output), or from the live cluster
(`--live`, inside a pod: the cluster's scheduled check). `--registry` reads every model version's tags
and aliases, `--audit-log` the promotion gate's log (standalone's is read when it exists); without them
the controls that need them say "unverified". OPA is the pinned `opa eval`, or the server at `--opa-url`.

Writes `<blueprint>-<framework>.md` and `.json` to `--out` and prints one line per control; exits 1
when a control fails (an accepted gap does not), 2 for unusable input.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from policies.compliance.controls import FRAMEWORKS
from services.cli import CliError

DEFAULT_AUDIT_LOG = Path(".mlplat") / "audit" / "promotions.jsonl"


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("compliance", help="compliance controls as code: the report (ADR 0024)")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    report = actions.add_parser("report", help="evaluate the controls of a framework and write the report")
    report.add_argument("--framework", required=True, choices=[*FRAMEWORKS, "all"], help="which controls")
    report.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    objects = report.add_mutually_exclusive_group()
    objects.add_argument("--manifests", nargs="+", type=Path, metavar="PATH", help="Kubernetes YAML files or folders")
    objects.add_argument("--live", action="store_true", help="read the objects from the cluster (inside a pod)")
    report.add_argument("--registry", metavar="URI", help="the registry's tracking URI: read versions and aliases")
    report.add_argument("--audit-log", type=Path, help=f"the promotion audit log [{DEFAULT_AUDIT_LOG}, if present]")
    report.add_argument("--opa-url", help="evaluate with this OPA server instead of `opa eval`")
    report.add_argument("--out", type=Path, default=Path("build/compliance"), help="[build/compliance]")
    report.add_argument("--push-gateway", metavar="URL", help="push each control's status (the scheduled check)")
    report.add_argument("--schedule-seconds", type=int, help="the schedule's longest gap, pushed with the status")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from services.compliance import check, report
    from services.compliance.live import LiveError
    from services.compliance.opa import OpaCli, OpaError, OpaServer
    from services.deploy.selection import selected_blueprint

    name, blueprint = selected_blueprint(args.blueprint)
    try:
        evaluator = OpaServer(args.opa_url) if args.opa_url else OpaCli()
        gathered = _gather(args, name, blueprint)
        result = check.run(gathered, evaluator)
    except (OpaError, LiveError) as exc:
        raise CliError(str(exc), code=2) from None
    markdown, data = check.write(result, gathered.inputs, args.out)
    if args.push_gateway:
        check.push(result, args.push_gateway, schedule_seconds=args.schedule_seconds, now=time.time())
    print(report.summary_table(result))
    print(f"\nreport: {markdown}  data: {data}")
    return 1 if report.failed(result) else 0


def _gather(args: argparse.Namespace, name: str, blueprint):
    from services.compliance import evidence
    from services.compliance.check import Check
    from services.promotion_gate.rules import RuleFileError, load_rules

    inputs: dict[str, str] = {}
    manifests, source = _objects(args, name, blueprint)
    if args.registry:
        registry = _registry(args.registry, blueprint)
        inputs["registry"] = f"{args.registry} ({len(registry['versions'])} versions)"
    else:
        registry = evidence.not_read("no --registry given")
        inputs["registry"] = "not read (no --registry)"
    audit_path = args.audit_log or DEFAULT_AUDIT_LOG  # absent: "not read", and the report says so
    audit = evidence.audit_section(audit_path)
    inputs["audit log"] = f"{audit_path} ({len(audit['entries'])} entries)" if audit["read"] else audit["note"]
    try:
        promotion = evidence.promotion_section(load_rules())
    except RuleFileError as exc:
        raise CliError(str(exc)) from None
    inputs["promotion rules"] = f"{promotion['source']} (version {promotion['version']})"
    return Check(blueprint, args.framework, manifests, source, registry, audit, promotion, inputs)


def _objects(args: argparse.Namespace, name: str, blueprint) -> tuple[list[dict], str]:
    if args.live:
        from services.compliance.live import ApiReader, live_manifests

        dedicated = [t.name for t in blueprint.tenants if t.registry == "dedicated"]
        return live_manifests(ApiReader.in_cluster(), dedicated), "live"
    if args.manifests:
        from policies.manifests import ManifestError, load_objects

        try:
            return [dict(obj.body) for obj in load_objects(args.manifests)], "files"
        except ManifestError as exc:
            raise CliError(str(exc)) from None
    from infra.render import render_blueprint

    return render_blueprint(name, mask_secrets=True).manifests, "rendered"


def _registry(uri: str, blueprint) -> dict:
    from services.compliance import evidence
    from services.promotion_gate import registry

    try:
        return evidence.registry_section(registry.client(uri), blueprint, uri)
    except Exception as exc:  # MLflow raises many types; the user needs the URI and the reason
        raise CliError(f"--registry {uri}: cannot read the registry ({type(exc).__name__}: {exc})") from None
