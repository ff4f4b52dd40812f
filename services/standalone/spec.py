"""The vocabulary of a standalone plan: processes, one-shot steps, schedules, and the site they run on.

A `Site` is where one standalone platform lives: its folder, its ports (shifted by an offset so two
platforms, or a test next to a developer's own, can run side by side), the Python that runs the
platform's commands and the PATH its tools are found on. Each component of services/standalone/
components.py places its processes on a site and returns them as a `Part`; `plan()` composes the
parts into the `Plan` the supervisor runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.registry.credentials import FILE_ENV, credentials_file, standalone_credentials_dir
from services.standalone.scheduler import ScheduledJob

__all__ = [
    "BINARY_NAMES",
    "Part",
    "Plan",
    "ProcessSpec",
    "Site",
    "batch_data_dir",
    "find_binary",
    "oneshot",
    "system_which",
]

# Debian names some Prometheus tools with a prefix.
BINARY_NAMES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "alertmanager": ("alertmanager", "prometheus-alertmanager"),
    "pushgateway": ("pushgateway", "prometheus-pushgateway"),
}


# Debian installs daemons such as nginx in /usr/sbin, which a user's PATH leaves out (root's has it): a
# tool the system packages installed is found there too, so `make test` finds it as root or not.
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def system_which(name: str) -> str | None:
    """`shutil.which`, then the system directories a non-root user's PATH leaves out."""
    return shutil.which(name) or shutil.which(name, path=":".join(SYSTEM_DIRS))


def find_binary(tool: str, which: Callable[[str], str | None] = system_which) -> str | None:
    for name in BINARY_NAMES.get(tool, (tool,)):
        path = which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: list[str]
    port: int
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    # a tenant's model server, so `mlplat status` can group by tenant and list what it serves
    tenant: str | None = None
    models: tuple[str, ...] = ()
    startup_timeout: float = 90.0
    # a step that runs to completion before the next component starts (e.g. the registry's users),
    # as a Job does in the cluster; it has no port and is not health-checked
    oneshot: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}{self.health_path}"


def oneshot(name: str, command: list[str], env: dict[str, str] | None = None, timeout: float = 300.0) -> ProcessSpec:
    return ProcessSpec(name, command, 0, "", dict(env or {}), startup_timeout=timeout, oneshot=True)


@dataclass(frozen=True)
class Plan:
    root: Path
    processes: list[ProcessSpec]
    skipped: dict[str, str]  # component -> why it is not started
    files: dict[Path, str]  # config files to write before starting
    schedules: list[ScheduledJob] = field(default_factory=list)  # batch jobs, run by the supervisor

    def by_name(self, name: str) -> ProcessSpec:
        return next(p for p in self.processes if p.name == name)


@dataclass
class Part:
    """What one component adds to the plan; `scrape` are its Prometheus targets by job."""

    processes: list[ProcessSpec] = field(default_factory=list)
    files: dict[Path, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    schedules: list[ScheduledJob] = field(default_factory=list)
    scrape: dict[str, list[dict]] = field(default_factory=dict)


def batch_data_dir(root: Path, tenant: str) -> Path:
    """Where a tenant's batch jobs read and write in standalone (the cluster: each job's data volume)."""
    return root / "batch" / tenant


@dataclass(frozen=True)
class Site:
    """One standalone platform's folder, ports, interpreter and PATH."""

    root: Path
    port_offset: int = 0
    python: str = "python3"
    which: Callable[[str], str | None] = system_which

    def port(self, base: int) -> int:
        return base + self.port_offset

    def mlplat(self, *args: str) -> list[str]:
        """A platform command, run by the site's Python: what `mlplat <args>` runs in the cluster's pods."""
        return [self.python, "-m", "services.cli", *args]

    def binary(self, tool: str) -> str | None:
        return find_binary(tool, self.which)

    @property
    def secrets_dir(self) -> Path:
        return standalone_credentials_dir(self.root)

    def credentials(self, user: str) -> str:
        return str(credentials_file(self.secrets_dir, user))

    def signed_in(self, user: str) -> dict[str, str]:
        """The environment that signs a process in to the registry as `user` (the path of its credentials
        file, generated by `mlplat standalone` before the plan runs; never the password)."""
        return {FILE_ENV: self.credentials(user)}
