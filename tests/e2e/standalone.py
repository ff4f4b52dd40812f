"""A test's own standalone platform, on ports no other test's platform holds.

`busy_ports` only sees ports something listens on already. Under pytest-xdist, two workers can each
find the same offset free and start two platforms on it a second later, so an offset is claimed in a
folder every worker shares, under a lock, before its platform starts, and released after it stops.
A claim spans the platform's whole port range (REST, gRPC and the monitoring tools, 5000 to 9200 before
the offset); a claim whose process is gone (a run that was killed) is ignored.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from blueprints import load
from services.standalone.plan import plan
from services.standalone.supervisor import busy_ports
from tests.services.mlflow_fixtures import wait_http

__all__ = ["alive", "claimed_offset", "running_standalone"]

ROOT = Path(__file__).resolve().parents[2]

CLAIMS = Path(tempfile.gettempdir()) / f"mlplat-test-port-claims-{os.getuid()}"  # per user: theirs to write
SPAN = 200  # past the highest planned port: model servers' gRPC ports sit 100+ above their REST ports


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it runs
        return True
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _held() -> list[tuple[int, int]]:
    held = []
    for claim in CLAIMS.glob("*.json"):
        record = json.loads(claim.read_text())
        if alive(record["pid"]):
            held.append((record["low"], record["high"]))
        else:
            claim.unlink(missing_ok=True)
    return held


@contextmanager
def claimed_offset(blueprint: str, tmp_path: Path) -> Iterator[int]:
    """Yield an offset whose ports are free and unclaimed, claimed until the block ends."""
    CLAIMS.mkdir(mode=0o700, exist_ok=True)
    with (CLAIMS / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        held = _held()
        for offset in range(2000, 20000, 137):
            planned = plan(load(blueprint), tmp_path, port_offset=offset)
            ports = [p.port for p in planned.processes if p.port]
            low, high = min(ports), max(ports) + SPAN
            if any(low <= other_high and other_low <= high for other_low, other_high in held):
                continue
            if not busy_ports(planned):
                break
        else:
            raise RuntimeError("no free, unclaimed set of ports between offsets 2000 and 20000")
        claim = CLAIMS / f"{os.getpid()}-{offset}.json"
        claim.write_text(json.dumps({"pid": os.getpid(), "low": low, "high": high}))
    try:
        yield offset
    finally:
        claim.unlink(missing_ok=True)


@contextmanager
def running_standalone(
    blueprint: str, tmp_path: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[Path, dict[str, dict], subprocess.Popen]]:
    """`mlplat standalone` for `blueprint` under tmp_path, every component healthy: yields its root, its
    components by name (from standalone.json) and the supervisor's process; stopped (SIGTERM) after."""
    with claimed_offset(blueprint, tmp_path) as offset:
        root, log_path = tmp_path / "platform", tmp_path / "standalone.log"
        command = [sys.executable, "-m", "services.cli", "standalone", "--blueprint", blueprint]
        command += ["--root", str(root), "--port-offset", str(offset)]
        with log_path.open("ab") as log:
            supervisor = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            started, state = time.monotonic(), root / "standalone.json"
            while not state.exists():
                if supervisor.poll() is not None or time.monotonic() - started > 180:
                    raise AssertionError(f"standalone did not come up:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            components = {c["name"]: c for c in json.loads(state.read_text())["components"]}
            for component in components.values():
                wait_http(component["health"], 60)
            yield root, components, supervisor
        finally:
            if supervisor.poll() is None:
                supervisor.send_signal(signal.SIGTERM)
                try:
                    supervisor.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    supervisor.kill()
                    supervisor.wait()
