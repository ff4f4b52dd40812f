"""The environment a standalone component starts with.

A pod starts from its image's environment and its manifest's `env`, nothing else. A standalone child
inherits the supervisor's environment instead, which may carry what the supervisor's own imports set:
Feast's import sets PROMETHEUS_MULTIPROC_DIR, and a child that inherits it collects its metrics in
prometheus-client's multiprocess mode, in a folder that is not its own and without the process_*
series that cost showback measures usage with. So those variables are left out, and a component that
wants one sets it in its own `env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from services.model_server.server import MULTIPROC_VARIABLES

__all__ = ["NOT_INHERITED", "child_environment"]

NOT_INHERITED = MULTIPROC_VARIABLES


def child_environment(own: Mapping[str, str], parent: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The parent's environment without NOT_INHERITED, then the component's own variables."""
    inherited = {name: value for name, value in parent.items() if name not in NOT_INHERITED}
    return {**inherited, **own}
