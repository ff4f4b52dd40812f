"""`mlplat toolchain`: build the pinned engine toolchain (infra/toolchain.toml) from source, once.

`mlplat toolchain` builds the engine's toolchain and the kind CLI; `--only control-plane` (etcd, Kubernetes,
kwok), `--only pulumi` (CLI, Kubernetes provider) or `--only kind-node` (what the kind node image is built
from; `mlplat node-image` asks for it itself) builds a group; `--print-bin-dir` prints the cache's bin
folder and builds nothing, for `PATH="$(mlplat toolchain --print-bin-dir):$PATH"`.
"""

from __future__ import annotations

import argparse

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("toolchain", help="build the pinned Pulumi/Kubernetes/etcd/kwok binaries (cached)")
    parser.add_argument("--print-bin-dir", action="store_true", help="print the bin folder and exit")
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="comma-separated components or groups: control-plane, pulumi, kind-tools, kind-node, etcd, ...",
    )
    parser.set_defaults(handler=_toolchain)


def _toolchain(args: argparse.Namespace) -> int:
    from services.engine import toolchain

    if args.print_bin_dir:
        print(toolchain.bin_dir())
        return 0
    try:
        results = toolchain.build(args.only)
    except toolchain.ModuleUnavailable as exc:
        raise CliError(f"toolchain: {exc}", code=1) from None
    except toolchain.ToolchainError as exc:
        raise CliError(f"toolchain: {exc}", code=1) from None
    for result in results:
        timing = f" in {result.seconds:.0f}s" if result.how == "built" else ""
        print(f"{result.binary:<26} {result.how}{timing}: {result.path}")
    return 0
