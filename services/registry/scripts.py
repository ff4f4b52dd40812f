"""Running the registry's shell scripts from Python, the way the cluster runs them, as any user.

The scripts are handed to `sh` on standard input (`sh -s`), never by path: the user they run as (the
database's, through `runuser`, since PostgreSQL refuses root) may not be able to read the checkout, for
instance one cloned into a private home directory (mode 700). A script the database server itself runs
later (`archive-wal.sh`, its archive_command) cannot be piped; `install()` copies it into a folder that
user owns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["install", "run_script"]


def run_script(
    script: Path, env: Mapping[str, str], *, run_as: str | None = None, tools: Path | None = None
) -> subprocess.CompletedProcess:
    """`sh` reading `script` from standard input, with os.environ + `env` (and `tools` first on PATH)."""
    full = {**os.environ, **env}
    if tools is not None:
        full["PATH"] = f"{tools}{os.pathsep}{full.get('PATH', '')}"
    command, cwd = ["sh", "-s"], None
    if run_as:  # it may not enter the caller's working folder: start it at the root
        command, cwd = ["runuser", "-u", run_as, "--", *command], "/"
    text = script.read_text(encoding="utf-8")
    return subprocess.run(command, input=text, env=full, cwd=cwd, capture_output=True, text=True, check=False)


def install(script: Path, folder: Path, owner: tuple[int, int] | None = None) -> Path:
    """A copy of `script` in `folder` (readable by all, owned by `owner`), for a process that runs it by path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / script.name
    shutil.copyfile(script, target)
    target.chmod(0o755)
    if owner is not None:
        os.chown(target, *owner)
    return target
