"""The deploy targets, and the choice between them.

    kind        a local kind cluster deployed with Pulumi (needs docker, kind, pulumi, kubectl)
    sim         a container-less control plane with kwok-simulated pods, deployed with the real
                `pulumi up` (needs the toolchain `make toolchain` builds; docs/engine.md)
    standalone  the same services as local processes, in the foreground (needs nothing but Python)
    auto        kind when all of its tools are present and working, otherwise standalone

Each target implements the protocol in services/deploy/target.py. Adding one is a module here and a
line in TARGETS (CONTRIBUTING.md: "a deploy target").
"""

from __future__ import annotations

from services.deploy.target import DeployError, Deployment, Options, Target
from services.deploy.targets.kind import KindTarget
from services.deploy.targets.sim import SimTarget
from services.deploy.targets.standalone import StandaloneTarget

__all__ = ["CHOICES", "TARGETS", "create", "for_down", "for_status", "for_up"]

TARGETS: dict[str, type] = {"kind": KindTarget, "sim": SimTarget, "standalone": StandaloneTarget}
CHOICES = ("auto", *TARGETS)


def create(name: str, deployment: Deployment, options: Options | None = None) -> Target:
    try:
        return TARGETS[name](deployment, options or Options())
    except KeyError:
        raise DeployError(f"unknown target {name!r}: choose from {', '.join(CHOICES)}", code=2) from None


def for_up(requested: str, deployment: Deployment, options: Options | None = None) -> tuple[Target, list[str]]:
    """The target `up` deploys to, and why auto did not pick kind (its preflight problems, else [])."""
    if requested != "auto":
        return create(requested, deployment, options), []
    kind = create("kind", deployment, options)
    problems = kind.preflight()
    if problems:
        return create("standalone", deployment, options), problems
    return kind, []


def for_down(requested: str, deployment: Deployment, options: Options | None = None) -> Target:
    """The target `down` removes. auto: the standalone platform if one runs from the state folder, else kind."""
    if requested != "auto":
        return create(requested, deployment, options)
    standalone = StandaloneTarget(deployment)
    return standalone if standalone.running() else create("kind", deployment, options)


def for_status(requested: str, deployment: Deployment) -> Target:
    """The target `status` reports. auto: the standalone platform if one runs from the state folder, else
    the sim cluster if one runs there, else standalone (which says that nothing runs)."""
    if requested != "auto":
        return create(requested, deployment)
    standalone, sim = StandaloneTarget(deployment), SimTarget(deployment)
    if not standalone.running() and sim.running():
        return sim
    return standalone
