"""`mlplat`: the platform's command line.

Each command group lives in its own module under `services/cli/` and exposes
`register(subparsers)`; this module only wires them together, so adding a command is adding a
module and one line to `_COMMAND_MODULES`. Command modules import their heavy dependencies
(MLflow, Pulumi) inside the handler, so `mlplat --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "CliError"]

_COMMAND_MODULES = (
    "services.cli.blueprint_cmd",
    "services.cli.render_cmd",
    "services.cli.deploy_cmd",
    "services.cli.cost_cmd",
    "services.cli.serve_cmd",
    "services.cli.promote_cmd",
    "services.cli.demo_cmd",
    "services.cli.toolchain_cmd",
    "services.cli.node_image_cmd",
    "services.cli.policy_cmd",
    "services.cli.registry_cmd",
    "services.cli.batch_cmd",
    "services.cli.train_cmd",
    "services.cli.features_cmd",
    "services.cli.images_cmd",
    "services.cli.compliance_cmd",
    "services.cli.gdpr_cmd",
    "services.cli.llm_cmd",
    "services.cli.fl_cmd",
)


class CliError(Exception):
    """An error for the user: printed without a traceback, exit code 2 unless given."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlplat", description="Deploy, operate and test the mlops-platform reference platform."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from services.deploy.target import DeployError

    try:
        _sign_in()
        return int(args.handler(args) or 0)
    except (CliError, DeployError) as exc:
        print(f"mlplat: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def _sign_in() -> None:
    """Standalone hands a process its registry credentials as a file (MLPLAT_REGISTRY_CREDENTIALS):
    load them into the variables MLflow's client reads (services/registry/credentials.py)."""
    from services.registry.credentials import CredentialsError, load_into_environment

    try:
        load_into_environment()
    except CredentialsError as exc:
        raise CliError(f"MLPLAT_REGISTRY_CREDENTIALS: {exc}") from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
