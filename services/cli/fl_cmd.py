"""`mlplat fl run`: a federated training run of a tenant's model, with its progress (docs/federated.md).

Examples:
  mlplat fl run --tenant mobile --blueprint federated          # on the running standalone platform
  mlplat fl run --tenant mobile --blueprint federated --devices 100 --fraction-per-round 0.1 --rounds 3
  mlplat fl run --spec /etc/federated/run.json                 # what the cluster's Job runs
Each round prints the devices that answered and the global model's accuracy; every round is logged
to MLflow; the model is registered under the tenant's model name and sent through the promotion gate.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.cli import CliError
from services.deploy.selection import selected_blueprint
from services.deploy.target import DEFAULT_ROOT


def register(subparsers: argparse._SubParsersAction) -> None:
    fl = subparsers.add_parser("fl", help="federated learning: simulated devices, secure aggregation, the gate")
    actions = fl.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="one federated run: rounds, devices, accuracy; register and gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--tenant", help="the tenant whose federated model to train")
    source.add_argument("--spec", type=Path, help="a run as JSON (the cluster's ConfigMap), instead of a blueprint")
    run.add_argument("--model", help="which federated model, if the tenant has several")
    run.add_argument("--blueprint", help="[the dev stack's blueprint]")
    run.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="a running standalone platform [.mlplat]")
    run.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI, else standalone's]")
    run.add_argument("--devices", type=int, help="override the blueprint: fewer devices for a short run")
    run.add_argument("--fraction-per-round", type=float, help="override the blueprint's sampled share")
    run.add_argument("--rounds", type=int, help="override the blueprint's rounds")
    run.add_argument("--alias", help="promote through the gate to this alias [challenger if canary, else the alias]")
    run.add_argument("--no-gate", action="store_true", help="register only; promote later with `mlplat promote`")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from services.federated.environment import FederatedEnvironmentError
    from services.federated.job import FederatedError
    from services.federated.launch import LaunchError, launch

    try:
        spec, alias = _spec_and_alias(args)
        target = _target(args, spec.tenant)
        print(_header(spec), flush=True)
        launch(spec, target, alias=None if args.no_gate else alias, say=lambda line: print(line, flush=True))
    except (LaunchError, FederatedError, FederatedEnvironmentError, OSError) as exc:
        raise CliError(str(exc), code=1) from None
    return 0


def _spec_and_alias(args: argparse.Namespace):
    """The run (from --spec, or the blueprint's model with any overrides) and the alias to gate it for."""
    from services.federated.launch import default_alias, resolve
    from services.federated.spec import RunSpec

    if args.spec is not None:
        try:
            return RunSpec.from_json(args.spec.read_text()), args.alias
        except (ValueError, TypeError, KeyError) as exc:
            raise CliError(
                f"--spec {args.spec}: not a federated run ({type(exc).__name__}: {exc}); it is what "
                "services/federated/spec.py's RunSpec.to_json writes (the cluster's ConfigMap holds one)"
            ) from None
    _, blueprint = selected_blueprint(args.blueprint)
    overrides = {
        key: value
        for key, value in (
            ("devices", args.devices),
            ("fraction_per_round", args.fraction_per_round),
            ("rounds", args.rounds),
        )
        if value is not None
    }
    spec, model = resolve(blueprint, args.tenant, args.model, overrides)
    return spec, args.alias or default_alias(model)


def _target(args: argparse.Namespace, tenant: str):
    """The registry: the one named (a cluster Job's, signed in by its environment; no gate), else the
    standalone platform running under --root (signed in as the tenant; the gate as the gate's user)."""
    from services.federated.launch import Target, standalone_target

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return Target(uri, None, None, None)
    target = standalone_target(args.root, tenant)
    if target is None:
        raise CliError(
            f"no registry: no standalone platform runs from {args.root}/ (start one with `make up`), and neither "
            "--tracking-uri nor MLFLOW_TRACKING_URI is set"
        )
    return target


def _header(spec) -> str:
    secagg = spec.secagg()
    privacy = (
        f", differential privacy (noise {spec.privacy.noise_multiplier}, clip {spec.privacy.clipping_norm})"
        if spec.privacy
        else ""
    )
    return (
        f"federated run: {spec.tenant}/{spec.model}: {spec.devices} devices, {spec.sampled} a round, "
        f"{spec.rounds} rounds, {spec.strategy}{f' (mu {spec.proximal_mu})' if spec.strategy == 'fedprox' else ''}, "
        f"{'SecAgg+' if secagg else 'plain aggregation'}, {spec.dropout_rate:.0%} dropout{privacy}"
    )
