"""The Docker CLI, as the image builds use it: inspect, build, import, tag, push, run.

Only the `docker` command is used (no SDK): what runs is what a reader could type. Long commands write
their output to a log file and print progress (the Dockerfile step being run, and a heartbeat), so a
cold build is never silent and a failure shows the end of its log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = ["DockerError", "build", "docker", "image_id", "import_rootfs", "inspect", "label", "push", "run_logged"]

Log = Callable[[str], None]
HEARTBEAT_SECONDS = 30.0


class DockerError(RuntimeError):
    """A docker command failed; the message names the command and ends with its output's last lines."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def docker(*args: str, check: bool = True, stdin: IO[bytes] | None = None) -> subprocess.CompletedProcess[str]:
    """A short docker command, its output captured."""
    done = subprocess.run(["docker", *args], stdin=stdin, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise DockerError(f"`docker {' '.join(args)}` failed: {(done.stderr or done.stdout).strip()}")
    return done


def inspect(ref: str) -> dict | None:
    """`docker image inspect` of a local image, or None when there is no such image."""
    done = docker("image", "inspect", ref, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)[0]


def image_id(ref: str) -> str | None:
    info = inspect(ref)
    return info["Id"] if info else None


def label(ref: str, key: str) -> str | None:
    info = inspect(ref)
    if info is None:
        return None
    return ((info.get("Config") or {}).get("Labels") or {}).get(key)


def run_logged(argv: Sequence[str], log_file: Path, what: str, log: Log = _stderr, **popen: object) -> None:
    """Run a long command with its output appended to log_file; print Dockerfile steps and a heartbeat."""
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            log(f"  ... {what}: {time.monotonic() - started:.0f}s")

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        with open(log_file, "a", encoding="utf-8") as out:
            out.write(f"$ {' '.join(argv)}\n")
            out.flush()
            process = subprocess.Popen(
                list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", **popen
            )
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                if line.startswith("Step "):  # the legacy builder's progress: "Step 3/9 : RUN ..."
                    log(f"  {line.rstrip()[:110]}")
            code = process.wait()
    finally:
        done.set()
        ticker.join()
    if code != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise DockerError(f"{what} failed (exit {code}); log: {log_file}\n" + "\n".join(tail))


def build(
    context: Path,
    dockerfile: Path,
    tag: str,
    *,
    build_args: Mapping[str, str],
    labels: Mapping[str, str],
    log_file: Path,
    log: Log = _stderr,
    no_cache: bool = False,
) -> None:
    """`docker build` with the host's network (package downloads inside the build need it here);
    `no_cache` ignores Docker's layer cache too (fresh packages from the archive)."""
    argv = ["docker", "build", "--network", "host", "--force-rm", "-f", str(dockerfile), "-t", tag]
    if no_cache:
        argv.append("--no-cache")
    for key, value in build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    shown = [part if "BEGIN CERTIFICATE" not in part else "EXTRA_CA_CERTS=<pem>" for part in argv]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", encoding="utf-8") as out:
        out.write(f"# {' '.join(shown)}\n")
    run_logged([*argv, str(context)], log_file, f"docker build {tag}", log)


def import_rootfs(folder: Path, ref: str, changes: Sequence[str], log_file: Path, log: Log = _stderr) -> None:
    """`tar -c folder | docker import - ref`: a root file system becomes an image of one layer."""
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "-C", str(folder)]
        + ["-c", "."],
        stdout=subprocess.PIPE,
    )
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    try:
        run_logged([*argv, "-", ref], log_file, f"docker import {ref}", log, stdin=tar.stdout)
    finally:
        if tar.stdout:
            tar.stdout.close()
        if tar.wait() != 0:
            raise DockerError(f"tar of {folder} failed (exit {tar.returncode})")


def push(ref: str, log_file: Path, log: Log = _stderr) -> None:
    run_logged(["docker", "push", ref], log_file, f"docker push {ref}", log)
