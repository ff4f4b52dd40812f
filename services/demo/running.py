"""The running platform the demo walks: where its parts answer, who may sign in, and what it skipped.

The demo's steps only talk to a `RunningPlatform`, so the same steps run against standalone (its state
file, `<root>/standalone.json`) and a cluster. A part the platform does not run is `None`, and
`missing()` says why, so a step that needs it can fail with the reason instead of skipping silently.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.registry.credentials import (
    PASSWORD_ENV,
    USERNAME_ENV,
    Credentials,
    CredentialsError,
    credentials_file,
    read_credentials,
    standalone_credentials_dir,
)

__all__ = ["DemoError", "RunningPlatform", "StandalonePlatform", "platform_urls"]


class DemoError(RuntimeError):
    pass


class RunningPlatform(Protocol):
    def url(self, component: str) -> str | None:
        """Base URL of a platform component: "mlflow", "prometheus", "alertmanager", "training-trigger"."""

    def model_url(self, tenant: str, model: str) -> str | None:
        """Base URL under which a model answers (`/v2/models/<model>/...`, `/models/<model>/invocations`)."""

    def missing(self, component: str) -> str:
        """Why a component does not run (what to install or declare)."""

    def user(self, name: str) -> Credentials:
        """A registry user's credentials."""

    def schedules(self, kind: str) -> list[dict]:
        """The scheduled jobs of a kind ("batch", "features"): name, schedule, command, env."""

    def run_now(self, schedule: dict) -> subprocess.CompletedProcess:
        """Run a scheduled job once, as its schedule would."""

    def audit_log(self) -> Path:
        """Where the demo's own gate decisions are recorded."""

    def audit_entries(self) -> list[dict]:
        """The audit log the training trigger writes (its runs and their gate decisions), as it is now."""

    def read(self, schedule: dict, path: str) -> bytes:
        """A file a scheduled job reads or wrote, by the path its command names."""

    def write(self, schedule: dict, path: str, data: bytes) -> None:
        """Put a file where a scheduled job reads it, by the path its command names."""

    def done_with(self, schedule: dict) -> None:
        """The demo reads and writes no more of a scheduled job's files: free what moving them took."""

    def feature_data(self, tenant: str) -> Path:
        """Where a tenant's offline feature data (its Parquet sources) is read from."""

    def feature_repo(self, tenant: str) -> Path:
        """A tenant's Feast repository, for point-in-time-correct training data."""


def platform_urls(root: Path) -> dict[str, dict]:
    state = root / "standalone.json"
    if not state.is_file():
        raise DemoError(f"no standalone platform is running from {root}/: start it with `make up` first")
    return {c["name"]: c for c in json.loads(state.read_text())["components"]}


@dataclass
class StandalonePlatform:
    """The platform `mlplat standalone` runs from `root`, read from its state file."""

    root: Path

    def __post_init__(self) -> None:
        self.components = platform_urls(self.root)
        state = json.loads((self.root / "standalone.json").read_text())
        self._skipped: dict[str, str] = state.get("skipped", {})
        self._schedules: list[dict] = state.get("schedules", [])

    def url(self, component: str) -> str | None:
        found = self.components.get(component)
        return found["url"] if found else None

    def model_url(self, tenant: str, model: str) -> str | None:
        return self.url(f"serving-{tenant}")  # one server per tenant serves all its models

    def missing(self, component: str) -> str:
        why = self._skipped.get(component, "it is not part of this platform")
        return f"{component} is not running in the standalone platform ({why})"

    def user(self, name: str) -> Credentials:
        """A registry user's credentials, from the files standalone generated (ADR 0017)."""
        try:
            return read_credentials(credentials_file(standalone_credentials_dir(self.root), name))
        except CredentialsError as exc:
            raise DemoError(str(exc)) from None

    def schedules(self, kind: str) -> list[dict]:
        return [s for s in self._schedules if s.get("kind", "batch") == kind]

    def run_now(self, schedule: dict) -> subprocess.CompletedProcess:
        # the job signs in as its own user (its env names its credentials file), not as whoever runs the demo
        env = {k: v for k, v in os.environ.items() if k not in (USERNAME_ENV, PASSWORD_ENV)}
        env.update(schedule.get("env", {}))
        return subprocess.run(schedule["command"], env=env, capture_output=True, text=True, check=False)

    def audit_log(self) -> Path:
        return self.root / "audit" / "promotions.jsonl"  # the gate and the trigger write the same log

    def audit_entries(self) -> list[dict]:
        from services.promotion_gate.audit import AuditLog

        return list(AuditLog(self.audit_log()).entries())

    def read(self, schedule: dict, path: str) -> bytes:
        return Path(path).read_bytes()

    def write(self, schedule: dict, path: str, data: bytes) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)

    def done_with(self, schedule: dict) -> None:
        pass  # the files are local: nothing was started to move them

    def feature_data(self, tenant: str) -> Path:
        from services.features.repo import standalone_dir

        return standalone_dir(self.root, tenant) / "data"

    def feature_repo(self, tenant: str) -> Path:
        from services.features.repo import standalone_dir

        return standalone_dir(self.root, tenant) / "repo"
