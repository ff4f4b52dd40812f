"""Run a standalone plan: check ports, start in order, health-check, print URLs, stop cleanly.

Guarantees, each tested:
- a busy port is reported, naming the component and the port, before any process starts;
- every child runs in its own session and gets SIGTERM (then SIGKILL after a grace period) when
  the supervisor stops, in reverse start order; on Linux children also die with the supervisor
  (PR_SET_PDEATHSIG), so even `kill -9` of the supervisor leaves no orphan;
- each component logs to `<root>/logs/<name>.log`;
- a one-shot step (the registry's users and grants) runs to completion, in plan order, before the
  components after it start; one that fails stops the start-up with its log;
- the running platform is described in `<root>/standalone.json` for `mlplat status` and removed on exit;
- the plan's batch schedules run from `tick()`, as the cluster's CronJobs would (scheduler.py), and
  their runs are stopped with everything else.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.standalone.environment import child_environment
from services.standalone.plan import Plan, ProcessSpec
from services.standalone.scheduler import Scheduler

__all__ = ["Supervisor", "StartupError", "busy_ports", "die_with_parent", "STATE_FILE"]

STATE_FILE = "standalone.json"
_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """Standalone could not start; the message says which component and what to do."""


def busy_ports(plan: Plan) -> list[str]:
    """One line per planned port that something else already listens on."""
    problems = []
    for spec in plan.processes:
        if spec.oneshot:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", spec.port))
            except OSError:
                problems.append(
                    f"{spec.name}: port {spec.port} on 127.0.0.1 is already in use; stop what listens there "
                    f"(`ss -ltnp 'sport = :{spec.port}'`) or start with --port-offset"
                )
    return problems


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """`preexec_fn` for a child that must not outlive its parent, even a SIGKILLed one (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Supervisor:
    plan: Plan
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    grace_seconds: float = 10.0
    _running: list[tuple[ProcessSpec, subprocess.Popen]] = field(default_factory=list)
    scheduler: Scheduler | None = None

    @property
    def log_dir(self) -> Path:
        return self.plan.root / "logs"

    def start(self) -> None:
        problems = busy_ports(self.plan)
        if problems:
            raise StartupError("cannot start, ports are busy:\n" + "\n".join(f"  - {p}" for p in problems))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for path, text in self.plan.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for spec in self.plan.processes:
            self._start_one(spec)
        self.scheduler = Scheduler(self.plan.schedules, self.log_dir, cwd=self.plan.root, log=self.log)
        self._write_state()

    def tick(self) -> None:
        """Start the batch jobs that are due (call it every few seconds while running)."""
        if self.scheduler is not None:
            self.scheduler.tick()

    def _start_one(self, spec: ProcessSpec) -> None:
        if spec.oneshot:
            self._run_once(spec)
            return
        started = time.monotonic()
        log_path = self.log_dir / f"{spec.name}.log"
        with log_path.open("ab") as log_file:
            process = self._spawn(spec, log_file)
        self._running.append((spec, process))
        self.log(f"starting {spec.name} on {spec.url} ...")
        deadline = started + spec.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StartupError(
                    f"{spec.name} exited with code {process.returncode} while starting; "
                    f"its log is {log_path}:\n{_tail(log_path)}"
                )
            if _healthy(spec.health_url):
                self.log(f"  {spec.name} healthy after {time.monotonic() - started:.1f}s")
                return
            time.sleep(0.25)
        raise StartupError(
            f"{spec.name} was not healthy at {spec.health_url} after {spec.startup_timeout:.0f}s; "
            f"its log is {log_path}:\n{_tail(log_path)}"
        )

    def _spawn(self, spec: ProcessSpec, log_file) -> subprocess.Popen:
        """A component's process: its own session (so a stop reaches its children), output to its log,
        and on Linux it dies with the supervisor."""
        return subprocess.Popen(
            spec.command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_environment(spec.env),
            cwd=self.plan.root,
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )

    def _run_once(self, spec: ProcessSpec) -> None:
        """A step that must finish (exit 0) before the next component starts."""
        started = time.monotonic()
        log_path = self.log_dir / f"{spec.name}.log"
        self.log(f"running {spec.name} ...")
        with log_path.open("ab") as log_file:
            process = self._spawn(spec, log_file)
            try:
                code = process.wait(timeout=spec.startup_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
                raise StartupError(
                    f"{spec.name} did not finish within {spec.startup_timeout:.0f}s; its log is {log_path}:\n"
                    f"{_tail(log_path)}"
                ) from None
        if code != 0:
            raise StartupError(f"{spec.name} failed with code {code}; its log is {log_path}:\n{_tail(log_path)}")
        self.log(f"  {spec.name} done in {time.monotonic() - started:.1f}s")

    def stop(self) -> None:
        """SIGTERM every child's process group in reverse order, then SIGKILL what is left."""
        if self.scheduler is not None:
            self.scheduler.stop(self.grace_seconds)
        for spec, process in reversed(self._running):
            if process.poll() is None:
                self.log(f"stopping {spec.name}")
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for _, process in reversed(self._running):
            remaining = max(0.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # anything its children left behind
        self._running.clear()
        (self.plan.root / STATE_FILE).unlink(missing_ok=True)

    def pids(self) -> list[int]:
        return [process.pid for _, process in self._running]

    def failed(self) -> list[str]:
        """Components that died after start-up."""
        return [spec.name for spec, process in self._running if process.poll() is not None]

    def _write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "components": [
                {
                    "name": spec.name,
                    "url": spec.url,
                    "health": spec.health_url,
                    "pid": process.pid,
                    "tenant": spec.tenant,
                    "models": list(spec.models),
                    "log": str(self.log_dir / f"{spec.name}.log"),
                }
                for spec, process in self._running
            ],
            "skipped": self.plan.skipped,
            "schedules": [
                {
                    "name": job.name,
                    "kind": job.kind,
                    "schedule": job.schedule,
                    "next_run_utc": self.scheduler.next_run[job.name].isoformat() if self.scheduler else None,
                    "command": job.command,
                    "env": job.env,
                    "log": str(self.log_dir / f"{job.name}.log"),
                }
                for job in self.plan.schedules
            ],
        }
        (self.plan.root / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")

    def url_table(self) -> str:
        rows = [(spec.name, spec.url, f"{self.log_dir / spec.name}.log") for spec, _ in self._running]
        rows += [(name, "not started", why) for name, why in self.plan.skipped.items()]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"  {name:<{width}}  {url:<24}  {extra}" for name, url, extra in rows)


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
