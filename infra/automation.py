"""Driving `pulumi up` from Python (the Pulumi Automation API), target-neutral.

`deploy_settings()` is a pure function that decides the workspace: project directory, stack,
stack config, state backend, secrets provider and which Pulumi CLI runs. By default the state lives
in a local file backend under `.mlplat/pulumi-state` and secrets are encrypted with a passphrase
generated once into `.mlplat/pulumi-passphrase` (mode 0600). Users with Pulumi Cloud or an S3 backend
override them with the usual variables: PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE or
PULUMI_CONFIG_PASSPHRASE_FILE, and MLPLAT_SECRETS_PROVIDER (e.g. awskms://...). `stack()`, `up()`,
`preview()` and `destroy()` are the thin shell that hands those settings to the Pulumi CLI.

The program is an **inline program**: `program()` runs `infra/__main__.py` (the very file `pulumi up`
runs from the CLI) inside this Python process, and the Automation API serves the language runtime to
the CLI from here (`pulumi up --client=...`). Every target (kind, sim) deploys this way, so the engine
tests exercise exactly what `make up` runs, and the CLI needs no `pulumi-language-python` plugin: the
one piece of the toolchain the Go module proxy cannot serve (ADR 0008).

With the passphrase provider, Pulumi records an `encryptionsalt` in `Pulumi.<stack>.yaml` on first
use: it is specific to your passphrase and harmless to commit in a fork.
"""

from __future__ import annotations

import os
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.local_secrets import read_or_create

if TYPE_CHECKING:
    from policies.deploy.plugin import PolicyGate
    from services.engine.toolchain import PulumiInstall

__all__ = [
    "DeploySettings",
    "PROJECT",
    "deploy_settings",
    "destroy",
    "ensure_passphrase",
    "preview",
    "program",
    "stack",
    "up",
]

PROJECT = "mlops-platform"
ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ROOT / "infra" / "__main__.py"

Output = Callable[[str], None]
# Stack config a target sets only when it departs from the default; an unset one is removed from the stack.
TOGGLES = tuple(f"{PROJECT}:{key}" for key in ("metricsServer", "imageMirror", "platformImageTag", "grafana"))


@dataclass(frozen=True)
class DeploySettings:
    work_dir: Path
    stack: str
    backend_url: str
    secrets_provider: str
    config: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)  # what the Pulumi CLI gets on top of os.environ
    passphrase_file: Path | None = None  # generated when the passphrase provider needs one
    pulumi_root: Path | None = None  # a Pulumi installation (<root>/bin/pulumi); None: `pulumi` on PATH


def deploy_settings(
    stack: str,
    *,
    kube_context: str,
    blueprint: str | None = None,
    kubeconfig: str | None = None,
    metrics_server: bool = True,
    image_mirror: str | None = None,
    platform_image_tag: str | None = None,
    grafana: bool = True,
    root: Path = ROOT,
    state_dir: Path | None = None,
    work_dir: Path | None = None,
    pulumi: PulumiInstall | None = None,
    environ: Mapping[str, str] | None = None,
) -> DeploySettings:
    """The workspace for one stack.

    `state_dir` (default `.mlplat/`) holds the file backend and the passphrase; `work_dir` (default the
    project root) holds `Pulumi.<stack>.yaml`, where the stack's config is written: a target whose config
    must not land in the project's tracked stack files (sim, the engine tests) passes a folder of its own.
    `pulumi` is a Pulumi installation other than the `pulumi` on PATH: the engine toolchain's CLI and the
    PULUMI_HOME whose plugin cache holds the provider built from source (services/engine/toolchain.py)."""
    environ = os.environ if environ is None else environ
    state = state_dir or root / ".mlplat"
    backend = environ.get("PULUMI_BACKEND_URL") or f"file://{state / 'pulumi-state'}"
    provider = environ.get("MLPLAT_SECRETS_PROVIDER", "passphrase")
    env = {"PULUMI_BACKEND_URL": backend, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    passphrase_file = None
    if provider == "passphrase" and "PULUMI_CONFIG_PASSPHRASE" in environ:
        env["PULUMI_CONFIG_PASSPHRASE"] = environ["PULUMI_CONFIG_PASSPHRASE"]  # the CLI's, not only ours
    elif provider == "passphrase":
        passphrase_file = Path(environ.get("PULUMI_CONFIG_PASSPHRASE_FILE") or state / "pulumi-passphrase")
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase_file)
    if pulumi is not None:
        env["PULUMI_HOME"] = str(pulumi.home)
    config = {f"{PROJECT}:kubeContext": kube_context}
    if blueprint:
        config[f"{PROJECT}:blueprint"] = blueprint
    if kubeconfig:
        config[f"{PROJECT}:kubeconfig"] = kubeconfig
    if not metrics_server:
        config[f"{PROJECT}:metricsServer"] = "false"
    if image_mirror:
        config[f"{PROJECT}:imageMirror"] = image_mirror
    if platform_image_tag:
        config[f"{PROJECT}:platformImageTag"] = platform_image_tag
    if not grafana:
        config[f"{PROJECT}:grafana"] = "false"
    return DeploySettings(
        work_dir=work_dir or root,
        stack=stack,
        backend_url=backend,
        secrets_provider=provider,
        config=config,
        env=env,
        passphrase_file=passphrase_file,
        pulumi_root=pulumi.root if pulumi is not None else None,
    )


def ensure_passphrase(path: Path) -> bool:
    """Create a random passphrase file readable by its owner only; True when it was created."""
    return read_or_create(path)[1]


def program() -> None:
    """The Pulumi program, run in this process: exactly what `pulumi up` runs from `infra/`."""
    runpy.run_path(str(PROGRAM), run_name="__main__")


def stack(settings: DeploySettings):
    """Create or select the stack, with its config set from the settings."""
    import pulumi.automation as auto

    if settings.passphrase_file is not None:
        ensure_passphrase(settings.passphrase_file)
    if settings.backend_url.startswith("file://"):
        Path(settings.backend_url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    command = None
    if settings.pulumi_root is not None:
        command = auto.PulumiCommand(root=str(settings.pulumi_root))
    options = auto.LocalWorkspaceOptions(
        work_dir=str(settings.work_dir),
        env_vars=settings.env,
        secrets_provider=settings.secrets_provider,
        pulumi_command=command,
        project_settings=None if (settings.work_dir / "Pulumi.yaml").exists() else _project_settings(),
    )
    selected = auto.create_or_select_stack(settings.stack, project_name=PROJECT, program=program, opts=options)
    current = selected.get_all_config()
    for key, value in settings.config.items():
        if key not in current or current[key].value != value:
            selected.set_config(key, auto.ConfigValue(value))
    for key in TOGGLES:  # a toggle the settings no longer set goes back to its default
        if key in current and key not in settings.config:
            selected.remove_config(key)
    return selected


def _project_settings():
    """The project of `Pulumi.yaml`, for a work folder of its own (the engine tests use temporary ones)."""
    import pulumi.automation as auto

    return auto.ProjectSettings(name=PROJECT, runtime="python", main=str(PROGRAM.parent))


def _gate_args(gate: PolicyGate | None) -> dict:
    return {} if gate is None else {"policy_packs": [str(gate.pack)], "policy_pack_configs": [str(gate.config)]}


def up(settings: DeploySettings, on_output: Output = print, gate: PolicyGate | None = None):
    """`pulumi up`; with `gate`, the deploy-time policy pack runs on every resource and a mandatory
    violation stops the update before it changes anything."""
    return stack(settings).up(on_output=on_output, **_gate_args(gate))


def preview(settings: DeploySettings, on_output: Output = print, gate: PolicyGate | None = None):
    return stack(settings).preview(on_output=on_output, **_gate_args(gate))


def destroy(settings: DeploySettings, on_output: Output = print):
    return stack(settings).destroy(on_output=on_output)
