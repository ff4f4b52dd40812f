"""Cron schedules for standalone: what a CronJob does in the cluster, the supervisor does here.

Each `ScheduledJob` is a blueprint batch job's command (services/batch/command.py, the same as the
CronJob's) with its schedule. `tick()` starts the jobs whose time came, as children in their own
session logging to `<logs>/<name>.log`, and behaves like the CronJobs the cluster runs:
- `concurrencyPolicy: Forbid`: a job whose previous run is still going is not started again; the
  skipped run is logged;
- a run over the job's timeout is stopped (SIGTERM, which the batch command turns into a clean exit
  with no partial output), like `activeDeadlineSeconds`;
- runs missed while the supervisor was not running are not caught up (no `startingDeadlineSeconds`).
The decision "is it due" is `CronSchedule.next_after`, a pure function; this module is the shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from blueprints.cron import parse_cron
from services.standalone.environment import child_environment

__all__ = ["ScheduledJob", "Scheduler"]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    schedule: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 3600
    kind: str = "batch"  # "batch" (a batch scoring job) or "features" (a feature store's materialization)


@dataclass
class _Run:
    process: subprocess.Popen
    started: float
    stopping: bool = False


class Scheduler:
    def __init__(
        self,
        jobs: list[ScheduledJob],
        log_dir: Path,
        *,
        cwd: Path | None = None,
        log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
    ):
        self.jobs, self.log_dir, self.cwd, self.log, self.clock = jobs, log_dir, cwd, log, clock
        now = self._moment(clock())
        self.next_run = {job.name: parse_cron(job.schedule).next_after(now) for job in jobs}
        self._running: dict[str, _Run] = {}

    @staticmethod
    def _moment(epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)  # schedules are UTC, as in the cluster

    def tick(self, now: float | None = None) -> list[str]:
        """Start every job that is due; returns the names started."""
        epoch = self.clock() if now is None else now
        moment = self._moment(epoch)
        self._reap(epoch)
        started = []
        for job in self.jobs:
            if moment < self.next_run[job.name]:
                continue
            self.next_run[job.name] = parse_cron(job.schedule).next_after(moment)
            if job.name in self._running:
                self.log(f"{job.name}: due, but its previous run is still going; skipped (concurrencyPolicy Forbid)")
                continue
            self._start(job, epoch)
            started.append(job.name)
        return started

    def run_now(self, name: str) -> None:
        """Start a job immediately (as `kubectl create job --from=cronjob/<name>` does), unless it runs."""
        job = next(j for j in self.jobs if j.name == name)
        if name not in self._running:
            self._start(job, self.clock())

    def _start(self, job: ScheduledJob, epoch: float) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{job.name}.log").open("ab") as handle:
            process = subprocess.Popen(
                job.command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_environment(job.env),
                cwd=self.cwd,
                start_new_session=True,
            )
        self._running[job.name] = _Run(process, epoch)
        self.log(f"{job.name}: started (schedule {job.schedule!r}), log {self.log_dir / job.name}.log")

    def _reap(self, epoch: float) -> None:
        for name, run in list(self._running.items()):
            code = run.process.poll()
            job = next(j for j in self.jobs if j.name == name)
            if code is None and epoch - run.started > job.timeout_seconds and not run.stopping:
                self.log(f"{name}: over its {job.timeout_seconds}s deadline; stopping it")
                _signal(run.process, signal.SIGTERM)
                run.stopping = True
                continue
            if code is not None:
                self.log(f"{name}: {'succeeded' if code == 0 else f'failed (exit {code})'}")
                del self._running[name]

    def running(self) -> list[str]:
        return [name for name, run in self._running.items() if run.process.poll() is None]

    def stop(self, grace: float = 10.0) -> None:
        for run in self._running.values():
            _signal(run.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for run in self._running.values():
            try:
                run.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(run.process, signal.SIGKILL)
                run.process.wait()
        self._running.clear()


def _signal(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
