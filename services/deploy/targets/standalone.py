"""The standalone target: the platform's services as local processes, in the foreground.

    up:     registry credentials generated once -> the process plan (services/standalone/plan.py) ->
            the supervisor starts and health-checks every process, prints the URLs, runs the batch
            schedules, and stops everything on Ctrl-C (or when a process dies)
    down:   asks a running supervisor to stop (SIGTERM) and waits until it has cleaned up
    status: every component's health and, per model server, the versions it serves

It needs nothing but Python: the supervisor's state file (`<root>/standalone.json`) is how `down` and
`status` find a running platform.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import ClassVar

from services.deploy import tools
from services.deploy.target import DeployError, Deployment, Options
from services.llm.standalone import ensure_keys

__all__ = ["StandaloneTarget"]


@dataclass
class StandaloneTarget:
    deployment: Deployment
    options: Options = Options()

    name: ClassVar[str] = "standalone"

    @property
    def state_file(self):
        return self.deployment.root / "standalone.json"

    def running(self) -> bool:
        return self.state_file.is_file()

    # --- the protocol -----------------------------------------------------------------------------
    def preflight(self) -> list[str]:
        return []

    def up(self) -> None:
        from services.local_secrets import fernet_key, read_or_create
        from services.standalone.plan import plan
        from services.standalone.supervisor import StartupError, Supervisor

        offset, root, blueprint = self.options.port_offset, self.deployment.root, self.deployment.blueprint
        if not 0 <= offset < 20000:
            raise DeployError(f"--port-offset {offset}: use 0 to 19999", code=2)
        webhook_key, _ = read_or_create(root / "mlflow-webhook-key", fernet_key)
        self._registry_credentials()
        ensure_keys(blueprint, root)  # the LLM gateway's tenant keys, generated once (services/llm/standalone.py)
        # tools on PATH, else the toolchain's (OPA for the compliance check)
        supervisor = Supervisor(plan(blueprint, root, port_offset=offset, webhook_key=webhook_key, which=tools.which))
        stopping = False

        def _stop(signum, _frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        started = time.monotonic()
        print(f"mlops-platform standalone: blueprint {blueprint.metadata.name}, data in {root}/", flush=True)
        try:
            supervisor.start()
            print(
                f"\nall healthy in {time.monotonic() - started:.1f}s:\n{supervisor.url_table()}\n"
                "Ctrl-C stops everything.",
                flush=True,
            )
            while not stopping:
                supervisor.tick()  # the blueprint's batch schedules
                dead = supervisor.failed()
                if dead:
                    raise DeployError(f"{', '.join(dead)} stopped unexpectedly; see {root}/logs/. Stopping.", code=1)
                time.sleep(0.5)
        except StartupError as exc:
            raise DeployError(str(exc), code=1) from None
        finally:
            supervisor.stop()

    def down(self, timeout: float = 30.0) -> None:
        """Ask a running `mlplat standalone` to stop (SIGTERM) and wait until it has cleaned up."""
        state_path, root = self.state_file, self.deployment.root
        if not state_path.is_file():
            print(f"no standalone platform is running from {root}/")
            return
        pid = json.loads(state_path.read_text(encoding="utf-8"))["supervisor_pid"]
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            state_path.unlink(missing_ok=True)
            print("the standalone supervisor was already gone; removed its stale state file")
            return
        deadline = time.monotonic() + timeout
        while state_path.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        if state_path.exists():
            raise DeployError(f"the standalone supervisor (pid {pid}) did not stop within {timeout:.0f}s", code=1)
        print("standalone platform stopped")

    def status(self, as_json: bool = False) -> bool:
        if not self.state_file.is_file():
            raise DeployError(
                f"no standalone platform is running from {self.deployment.root}/ (start one with `make up`)", code=1
            )
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        rows = []
        for component in state["components"]:
            row = {**component, "healthy": _probe(component["health"])}
            if component.get("models"):
                row["served"] = _served(component)
            rows.append(row)
        if as_json:
            report = {"components": rows, "skipped": state.get("skipped", {}), "schedules": state.get("schedules", [])}
            print(json.dumps(report, indent=2))
        else:
            _print_table(rows, state)
        return all(r["healthy"] for r in rows)

    # --- the steps ----------------------------------------------------------------------------------
    def _registry_credentials(self) -> None:
        """One owner-only credentials file per registry user, generated once (ADR 0017)."""
        from services.registry.access import ADMIN, MONITORING, access_plan
        from services.registry.credentials import ensure_credentials, password_file, standalone_credentials_dir

        try:
            users = access_plan(self.deployment.blueprint, None).users
        except ValueError as exc:
            raise DeployError(str(exc), code=2) from None
        directory = standalone_credentials_dir(self.deployment.root)
        for user in (ADMIN, *users):
            credentials = ensure_credentials(directory, user)
            if user == MONITORING:  # Prometheus reads a bare password file
                password_file(directory, credentials)


def _print_table(rows: list[dict], state: dict) -> None:
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {'healthy' if row['healthy'] else 'DOWN':<8} {row['url']}")
        for served in row.get("served", []):
            variants = ", ".join(f"{variant} v{version or '-'}" for variant, version in served["variants"].items())
            print(f"{'':<{width}}    {served['model']}: {variants or 'not loaded yet'}")
    for name, why in state.get("skipped", {}).items():
        print(f"{name:<{width}}  skipped  {why}")
    for job in state.get("schedules", []):
        when = f"schedule {job['schedule']!r}, next run {job['next_run_utc']} UTC"
        print(f"{job.get('kind', 'batch')} {job['name']}: {when}, log {job['log']}")


def _probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _served(component: dict) -> list[dict]:
    """What a model server serves right now: each model's variants and their versions."""
    out = []
    for model in component.get("models", []):
        try:
            with urllib.request.urlopen(f"{component['url']}/v2/models/{model}", timeout=2) as response:
                meta = json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            out.append({"model": model, "variants": {}})
            continue
        variants = {name: v["version"] for name, v in meta["parameters"]["variants"].items()}
        out.append({"model": model, "variants": variants, "challenger_weight": meta["parameters"]["challenger_weight"]})
    return out
