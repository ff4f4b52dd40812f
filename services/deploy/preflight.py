"""Preflight: which tools a deploy target needs, which are missing or too old, and how to fix it.

Pure decisions over two injected functions (find a tool on PATH, run it for its version), so the
tests drive them with a controlled PATH and fake versions. Each problem is one line that says
how to install the tool.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Tool", "Problem", "KIND_TOOLS", "check_tools", "parse_version", "run_version"]


@dataclass(frozen=True)
class Tool:
    name: str
    version_args: tuple[str, ...]
    minimum: tuple[int, ...] | None
    install: str


@dataclass(frozen=True)
class Problem:
    tool: str
    message: str

    def __str__(self) -> str:
        return f"{self.tool}: {self.message}"


# kind >= 0.24 is the first release whose default CNI (kindnet) enforces NetworkPolicy.
KIND_TOOLS = (
    Tool(
        "docker",
        ("version", "--format", "{{.Server.Version}}"),
        (20, 10),
        "install Docker Engine or Docker Desktop and start it: https://docs.docker.com/engine/install/",
    ),
    Tool(
        "kind",
        ("version",),
        (0, 24),
        "install kind >= 0.24 (NetworkPolicy support): https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    ),
    Tool("pulumi", ("version",), (3, 100), "install the Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/"),
    Tool(
        "kubectl",
        ("version", "--client", "-o", "json"),
        (1, 30),
        "install kubectl >= 1.30: https://kubernetes.io/docs/tasks/tools/",
    ),
)

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first dotted version in a tool's output: "kind v0.27.0 go1.23" -> (0, 27, 0)."""
    match = _VERSION.search(text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def run_version(path: str, args: tuple[str, ...]) -> tuple[int, str]:
    """Run `<tool> <version args>`; returns (exit code, combined output)."""
    try:
        done = subprocess.run([path, *args], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def check_tools(
    tools: tuple[Tool, ...] = KIND_TOOLS,
    *,
    which: Callable[[str], str | None] = shutil.which,
    version: Callable[[str, tuple[str, ...]], tuple[int, str]] = run_version,
) -> list[Problem]:
    """Every problem with the tools, in order; an empty list means the target can run."""
    problems: list[Problem] = []
    for tool in tools:
        path = which(tool.name)
        if path is None:
            problems.append(Problem(tool.name, f"not found on PATH; {tool.install}"))
            continue
        code, output = version(path, tool.version_args)
        if tool.name == "docker" and code != 0:
            problems.append(
                Problem(
                    tool.name,
                    "the Docker daemon is not reachable; start Docker "
                    "(or check that your user may use it: `docker info`)",
                )
            )
            continue
        if code != 0:
            problems.append(
                Problem(
                    tool.name,
                    f"`{tool.name} {' '.join(tool.version_args)}` failed: "
                    f"{output.splitlines()[0] if output else 'no output'}",
                )
            )
            continue
        found = parse_version(output)
        if tool.minimum and (found is None or found < tool.minimum):
            shown = ".".join(map(str, found)) if found else "unknown"
            need = ".".join(map(str, tool.minimum))
            problems.append(Problem(tool.name, f"version {shown} is older than {need}; {tool.install}"))
    return problems
