"""What a deploy target is: one small protocol that `kind`, `sim` and `standalone` all implement.

A target takes a `Deployment` (which blueprint, which Pulumi stack, which state folder) and knows how to
bring that platform up on its kind of machine, tear it down, and report on it:

    preflight() -> problems   what stops this target from running here ([] when nothing does)
    up()                      deploy; raises DeployError with what to do next when it cannot
    down()                    remove everything up() created
    status(as_json) -> bool   print what runs and how healthy it is; True when all of it is

The command line only parses arguments, picks a target (services/deploy/targets/) and calls it, so a
new target (a remote cluster by kubeconfig, say) is one new module and one line in the registry;
CONTRIBUTING.md walks through that example.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from blueprints.schema import Blueprint

__all__ = ["DEFAULT_ROOT", "DeployError", "Deployment", "Options", "Target"]

DEFAULT_ROOT = Path(".mlplat")  # every target's state: logs, data, the Pulumi state, the sim cluster


class DeployError(Exception):
    """A deploy that cannot go on: the message says what went wrong and what to do. `code` is the exit
    code the command line returns (2 for a bad argument, 1 for a step that failed)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Deployment:
    """WHAT to deploy, the same for every target."""

    blueprint_name: str  # a shipped name or a path, as the user or the stack named it
    blueprint: Blueprint
    stack: str = "dev"  # the Pulumi stack (Pulumi.<stack>.yaml), which also names the default blueprint
    root: Path = DEFAULT_ROOT
    explicit: bool = True  # False when the blueprint came from the stack's config, not from --blueprint

    @property
    def blueprint_override(self) -> str | None:
        """The blueprint to write into the stack's config: only one the user asked for."""
        return self.blueprint_name if self.explicit else None


@dataclass(frozen=True)
class Options:
    """HOW a target runs, where targets differ; each reads the fields that concern it."""

    port_offset: int = 0  # standalone: shift every port (two platforms side by side)
    node_cpus: int | None = None  # sim: the fake node's CPUs (default: this machine's)
    node_memory: str | None = None  # sim: the fake node's memory, a quantity such as "8Gi"
    keep_registry: bool = False  # kind, down: keep the local registry (and the images it holds)


class Target(Protocol):
    """A place the platform can run. Implementations live in services/deploy/targets/."""

    name: ClassVar[str]

    def preflight(self) -> list[str]: ...

    def up(self) -> None: ...

    def down(self) -> None: ...

    def status(self, as_json: bool = False) -> bool: ...
