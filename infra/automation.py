"""Driving `pulumi up` from Python (the Pulumi Automation API), target-neutral.

`deploy_settings()` is a pure function that decides the workspace: project directory, stack,
stack config, state backend and secrets provider. By default the state lives in a local file
backend under `.mlplat/pulumi-state` and secrets are encrypted with a passphrase generated once into
`.mlplat/pulumi-passphrase` (mode 0600). Users with Pulumi Cloud or an S3 backend override them with
the usual variables: PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE,
and MLPLAT_SECRETS_PROVIDER (e.g. awskms://...). `stack()`, `up()` and `destroy()` are the thin shell
that hands those settings to the Pulumi CLI.

With the passphrase provider, Pulumi records an `encryptionsalt` in `Pulumi.<stack>.yaml` on first
use: it is specific to your passphrase and harmless to commit in a fork.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.local_secrets import read_or_create

__all__ = ["DeploySettings", "deploy_settings", "ensure_passphrase", "stack", "up", "destroy", "PROJECT"]

PROJECT = "mlops-platform"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DeploySettings:
    work_dir: Path
    stack: str
    backend_url: str
    secrets_provider: str
    config: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)  # what the Pulumi CLI gets on top of os.environ
    passphrase_file: Path | None = None  # generated when the passphrase provider needs one


def deploy_settings(
    stack: str,
    *,
    kube_context: str,
    blueprint: str | None = None,
    kubeconfig: str | None = None,
    root: Path = ROOT,
    environ: Mapping[str, str] | None = None,
) -> DeploySettings:
    environ = os.environ if environ is None else environ
    state = root / ".mlplat"
    backend = environ.get("PULUMI_BACKEND_URL") or f"file://{state / 'pulumi-state'}"
    provider = environ.get("MLPLAT_SECRETS_PROVIDER", "passphrase")
    env = {"PULUMI_BACKEND_URL": backend, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    passphrase_file = None
    if provider == "passphrase" and "PULUMI_CONFIG_PASSPHRASE" not in environ:
        passphrase_file = Path(environ.get("PULUMI_CONFIG_PASSPHRASE_FILE") or state / "pulumi-passphrase")
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file)
    config = {f"{PROJECT}:kubeContext": kube_context}
    if blueprint:
        config[f"{PROJECT}:blueprint"] = blueprint
    if kubeconfig:
        config[f"{PROJECT}:kubeconfig"] = kubeconfig
    return DeploySettings(
        work_dir=root,
        stack=stack,
        backend_url=backend,
        secrets_provider=provider,
        config=config,
        env=env,
        passphrase_file=passphrase_file,
    )


def ensure_passphrase(path: Path) -> bool:
    """Create a random passphrase file readable by its owner only; True when it was created."""
    return read_or_create(path)[1]


def stack(settings: DeploySettings):
    import pulumi.automation as auto

    if settings.passphrase_file is not None:
        ensure_passphrase(settings.passphrase_file)
    if settings.backend_url.startswith("file://"):
        Path(settings.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    options = auto.LocalWorkspaceOptions(
        work_dir=str(settings.work_dir), env_vars=settings.env, secrets_provider=settings.secrets_provider
    )
    selected = auto.create_or_select_stack(settings.stack, work_dir=str(settings.work_dir), opts=options)
    current = selected.get_all_config()
    for key, value in settings.config.items():
        if key not in current or current[key].value != value:
            selected.set_config(key, auto.ConfigValue(value))
    return selected


def up(settings: DeploySettings, on_output: Callable[[str], None] = print):
    return stack(settings).up(on_output=on_output)


def destroy(settings: DeploySettings, on_output: Callable[[str], None] = print):
    return stack(settings).destroy(on_output=on_output)
