"""Running the tools a target drives (docker, kind, kubectl) through one injectable runner.

Each step runs a command through a `Runner` and turns a failure into `CommandFailed`, which carries
the command's last lines and what to do next. Tests pass a fake runner and check the exact commands,
their order and the decisions between them; the real runner is `subprocess_runner`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["CommandFailed", "Runner", "subprocess_runner"]

ROOT = Path(__file__).resolve().parents[2]

# A runner takes a command and returns (exit code, combined output).
Runner = Callable[[Sequence[str]], tuple[int, str]]


class CommandFailed(RuntimeError):
    def __init__(self, command: Sequence[str], output: str, advice: str):
        self.command, self.output, self.advice = list(command), output, advice
        tail = "\n".join(output.strip().splitlines()[-5:])
        super().__init__(f"`{' '.join(command)}` failed:\n{tail}\n-> {advice}")


def subprocess_runner(command: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(list(command), capture_output=True, text=True, check=False, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr
