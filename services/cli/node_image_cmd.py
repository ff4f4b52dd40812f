"""`mlplat node-image`: build the kind node image on this machine (ADR 0019), once; print its name.

`kind create cluster --image "$(mlplat node-image)"` then boots a cluster from it. Nothing is pulled: every
part comes from the Go module proxy and Debian. A cached image (same inputs) is returned at once.
"""

from __future__ import annotations

import argparse

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("node-image", help="build the kind node image from source, offline (cached)")
    parser.set_defaults(handler=_node_image)


def _node_image(args: argparse.Namespace) -> int:
    from services.engine.toolchain import ToolchainError
    from services.images.node import build_node_image

    try:
        image = build_node_image()
    except ToolchainError as exc:
        raise CliError(f"node-image: {exc}", code=1) from None
    print(image.ref)
    return 0
