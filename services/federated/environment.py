"""Where the federated environment's Python is: Flower runs there, the platform runs here (ADR 0023).

Flower 1.42 pins `packaging<26` (and starlette, rich, fastapi below what MLflow and Feast use here),
while Pulumi needs `packaging>=26`: one environment cannot hold both. So Flower has its own
environment, and the platform starts the federated runtime in it as a subprocess, passing the run as
JSON and reading events back (services/federated/job.py). In order:

1. `MLPLAT_FEDERATED_PYTHON`, when set (the platform image sets it to /opt/federated/bin/python);
2. `.venv-federated/bin/python` in the repository (`make venv-federated`).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FederatedEnvironmentError", "federated_python", "PYTHON_ENV", "REPOSITORY"]

PYTHON_ENV = "MLPLAT_FEDERATED_PYTHON"
REPOSITORY = Path(__file__).resolve().parents[2]


class FederatedEnvironmentError(RuntimeError):
    """The federated environment is missing; the message says how to create it."""


def federated_python(environ: dict[str, str] | None = None) -> Path:
    environ = dict(os.environ) if environ is None else environ
    configured = environ.get(PYTHON_ENV)
    candidate = Path(configured) if configured else REPOSITORY / ".venv-federated" / "bin" / "python"
    if not candidate.is_file():
        where = f"{PYTHON_ENV}={configured}" if configured else str(candidate)
        raise FederatedEnvironmentError(
            f"the federated environment's Python is missing ({where}): run `make venv-federated` "
            f"(Flower needs an environment of its own, ADR 0023), or point {PYTHON_ENV} at one"
        )
    return candidate
