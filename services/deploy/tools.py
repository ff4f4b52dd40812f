"""Where the kind path's tools come from: PATH first, then the ones `make toolchain` built.

A user with kind, pulumi and kubectl installed runs those; a machine that has only the toolchain built
from source (this project's test machines, an air-gapped network) runs the pinned ones from
~/.cache/mlops-platform/toolchain. Docker is never built: it must be installed and running.
"""

from __future__ import annotations

import shutil

__all__ = ["tool", "which"]


def which(name: str) -> str | None:
    """The path of a tool on PATH, else of the one the toolchain built, else None."""
    found = shutil.which(name)
    if found or name == "docker":
        return found
    from services.engine.toolchain import bin_dir

    built = bin_dir() / name
    return str(built) if built.exists() else None


def tool(name: str) -> str:
    """How to run a tool: its name when it is on PATH (so commands read as in the docs), else its path."""
    return name if shutil.which(name) else (which(name) or name)
