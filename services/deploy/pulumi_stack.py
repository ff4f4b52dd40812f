"""The step the cluster targets share: the blueprint's Pulumi stack, up (with the deploy-time policy pack)
and destroyed through the Automation API (infra/automation.py).

A failure inside Pulumi becomes a DeployError that says what failed and what to do next; the stack's
state is kept, so running the same command again resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from services.deploy.target import DeployError, Deployment

if TYPE_CHECKING:
    from infra.automation import DeploySettings

__all__ = ["destroy", "print_line", "pulumi_failures", "up"]


def print_line(line: str) -> None:
    """Pulumi's output as it comes, one line at a time."""
    print(line, end="" if line.endswith("\n") else "\n", flush=True)


@contextmanager
def pulumi_failures(what: str, advice: str) -> Iterator[None]:
    """Turn an Automation API error into a DeployError: `<what> failed: <Pulumi's words> -> <advice>`."""
    try:
        yield
    except Exception as exc:
        if not type(exc).__module__.startswith("pulumi.automation"):
            raise
        raise DeployError(f"{what} failed:\n{exc}\n-> {advice}", code=1) from None


def check_provider(settings: DeploySettings) -> None:
    """With the toolchain's Pulumi (offline), the provider the SDK asks for must already be in its plugin
    cache: otherwise `pulumi up` would try a download that cannot succeed. A user's own Pulumi (PULUMI_HOME
    unset) fetches what it needs."""
    from services.engine.toolchain import installed_sdk_version

    home = settings.env.get("PULUMI_HOME")
    sdk = installed_sdk_version()
    if home is None or sdk is None:
        return
    plugins = Path(home) / "plugins"
    if (plugins / f"resource-kubernetes-v{sdk}").is_dir():
        return
    have = sorted(p.name.removeprefix("resource-kubernetes-v") for p in plugins.glob("resource-kubernetes-v*"))
    raise DeployError(
        f"the pulumi-kubernetes SDK installed here is {sdk}, and the toolchain's Pulumi has provider "
        f"{', '.join(have) or 'none'}: `pulumi up` would try to download provider {sdk}, which cannot succeed "
        "offline.\n-> run `make toolchain` (it builds the provider at the SDK's version when the Go module proxy "
        "serves it), or install the SDK the project pins: `.venv/bin/pip install -c constraints.txt -e .`",
        code=2,
    )


def up(settings: DeploySettings, deployment: Deployment, context: str, policy_dir: Path) -> None:
    """`pulumi up` of the deployment's stack; the policy pack stops it before any change on a mandatory
    violation (docs/policies.md)."""
    from infra import automation
    from policies.deploy.plugin import gate

    check_provider(settings)
    policy = gate(deployment.blueprint.platform.policy, policy_dir)
    print(
        f"pulumi up: stack {deployment.stack}, blueprint {deployment.blueprint_name}, context {context}, "
        "policy pack on",
        flush=True,
    )
    automation.up(settings, on_output=print_line, gate=policy)


def destroy(settings: DeploySettings) -> None:
    from infra import automation

    automation.destroy(settings, on_output=print_line)
