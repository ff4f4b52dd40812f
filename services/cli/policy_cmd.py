"""`mlplat policy check` and `mlplat policy config`: the deploy-time and admission rules, offline.

    mlplat policy check PATH... [--engine deploy|cel] [--blueprint NAME_OR_FILE]
    mlplat policy config BLUEPRINT [--out FILE]

`check` runs the same rules the Pulumi policy pack runs (`--engine deploy`, the default) or the
admission policies' CEL (`--engine cel`) over plain Kubernetes YAML, so a team can check its own
manifests before it deploys. It prints a table of resource, rule, level and message and exits 1
when a mandatory rule fails (0 otherwise; 2 for unusable input). Levels and allowed registries
come from a blueprint's `platform.policy` (default: the schema's defaults, every rule mandatory).

`config` prints the `--policy-pack-config` document for `pulumi preview --policy-pack
policies/deploy`, so the pack enforces what the blueprint says (ADR 0010).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from services.cli import CliError

ENGINES = ("deploy", "cel")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("policy", help="check Kubernetes YAML against the platform's guardrails")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    check = actions.add_parser("check", help="run the deploy or admission rules over YAML files or folders")
    check.add_argument("paths", nargs="+", metavar="PATH", help="a YAML file, or a folder searched for *.yaml")
    check.add_argument(
        "--engine",
        choices=ENGINES,
        default="deploy",
        help="deploy: the policy pack's rules; cel: the admission policies, evaluated as the API server would",
    )
    check.add_argument(
        "--blueprint",
        default=None,
        help="take enforcement levels and allowed registries from this blueprint (a shipped name or a file)",
    )
    check.set_defaults(handler=_check)

    config = actions.add_parser("config", help="print the policy-pack config for a blueprint (--policy-pack-config)")
    config.add_argument("blueprint", help="a shipped blueprint's name or a path to a blueprint file")
    config.add_argument("--out", type=Path, default=None, help="write to this file instead of standard output")
    config.set_defaults(handler=_config)


def _settings(blueprint: str | None):
    from blueprints import BlueprintError, load
    from blueprints.schema import PolicySettings

    if blueprint is None:
        return PolicySettings()
    try:
        return load(blueprint).platform.policy
    except BlueprintError as exc:
        raise CliError(str(exc)) from None


def _check(args: argparse.Namespace) -> int:
    from policies.catalog import RULES
    from policies.findings import table
    from policies.manifests import ManifestError, load_objects

    settings = _settings(args.blueprint)
    try:
        objects = load_objects(args.paths)
    except ManifestError as exc:
        raise CliError(str(exc)) from None
    try:
        findings = _run(args.engine, objects, settings)
    except CliError:
        raise
    except Exception as exc:  # a bug in a rule must still not end in a traceback
        raise CliError(
            f"internal error while checking ({type(exc).__name__}: {exc}): this is a bug in the rules; "
            "please report it with the manifest that caused it"
        ) from None
    not_covered = ", ".join(rule.id for rule in RULES if not rule.admission)
    note = (
        f"(not expressible at admission, so not checked by --engine cel: {not_covered})" if args.engine == "cel" else ""
    )
    if findings:
        print(table(findings))
    mandatory = sum(f.level == "mandatory" for f in findings)
    advisory = len(findings) - mandatory
    files = len({obj.source.rsplit("#", 1)[0] for obj in objects})
    verdict = f"{mandatory} mandatory, {advisory} advisory violation(s)" if findings else "no violations"
    print(f"{len(objects)} object(s) in {files} file(s), {args.engine} rules: {verdict}")
    if note:
        print(note)
    return 1 if mandatory else 0


def _run(engine: str, objects: list, settings) -> list:
    if engine == "cel":
        from policies.admission.engine import EngineUnavailable, PolicyError, check

        try:
            return check(objects, settings)
        except (EngineUnavailable, PolicyError) as exc:
            raise CliError(str(exc)) from None
    from policies.deploy.check import check as check_deploy

    return check_deploy(objects, settings)


def _config(args: argparse.Namespace) -> int:
    from policies.enforcement import pulumi_config

    document = json.dumps(pulumi_config(_settings(args.blueprint)), indent=2) + "\n"
    if args.out is None:
        print(document, end="")
        return 0
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write the config ({exc.strerror}): choose another --out") from None
    print(f"{args.blueprint}: policy-pack config -> {args.out}")
    return 0
