"""The Automation API workspace: project, stack, config, backend and secrets provider decisions."""

from __future__ import annotations

import stat

import yaml

from infra.automation import PROGRAM, PROJECT, ROOT, deploy_settings, ensure_passphrase
from services.engine import toolchain


def test_defaults_are_a_local_file_backend_and_a_generated_passphrase(tmp_path):
    settings = deploy_settings("dev", kube_context="kind-mlops", root=tmp_path, environ={})
    assert settings.work_dir == tmp_path and settings.stack == "dev"
    assert settings.backend_url == f"file://{tmp_path / '.mlplat' / 'pulumi-state'}"
    assert settings.secrets_provider == "passphrase"
    assert settings.passphrase_file == tmp_path / ".mlplat" / "pulumi-passphrase"
    assert settings.env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(settings.passphrase_file)
    assert settings.config == {f"{PROJECT}:kubeContext": "kind-mlops"}


def test_stack_config_carries_the_context_blueprint_and_kubeconfig(tmp_path):
    settings = deploy_settings(
        "dev",
        kube_context="kind-mlops",
        blueprint="foundation",
        kubeconfig="/tmp/x/kubeconfig",
        root=tmp_path,
        environ={},
    )
    assert settings.config == {
        "mlops-platform:kubeContext": "kind-mlops",
        "mlops-platform:blueprint": "foundation",
        "mlops-platform:kubeconfig": "/tmp/x/kubeconfig",
    }


def test_users_override_backend_passphrase_and_secrets_provider(tmp_path):
    cloud = deploy_settings(
        "prod",
        kube_context="kind-mlops",
        root=tmp_path,
        environ={"PULUMI_BACKEND_URL": "s3://bucket/state", "PULUMI_CONFIG_PASSPHRASE": "x"},
    )
    assert cloud.backend_url == "s3://bucket/state" and cloud.passphrase_file is None
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in cloud.env
    assert cloud.env["PULUMI_CONFIG_PASSPHRASE"] == "x"  # handed to the CLI even when set only for us
    kms = deploy_settings(
        "prod", kube_context="c", root=tmp_path, environ={"MLPLAT_SECRETS_PROVIDER": "awskms://alias/platform"}
    )
    assert kms.secrets_provider == "awskms://alias/platform" and kms.passphrase_file is None


def test_the_generated_passphrase_is_readable_by_its_owner_only_and_never_replaced(tmp_path):
    path = tmp_path / ".mlplat" / "pulumi-passphrase"
    assert ensure_passphrase(path) is True
    first = path.read_text()
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_passphrase(path) is False and path.read_text() == first


def test_the_toolchain_supplies_the_cli_and_its_plugin_cache(tmp_path):
    install = toolchain.pulumi_install(tmp_path / "toolchain" / "bin")
    settings = deploy_settings("dev", kube_context="kind-mlops", root=tmp_path, pulumi=install, environ={})
    assert settings.pulumi_root == install.root  # PulumiCommand runs <root>/bin/pulumi
    assert settings.env["PULUMI_HOME"] == str(install.home)  # its plugin cache holds the provider built here
    assert install.root / "bin" != tmp_path / "toolchain" / "bin"  # no provider beside the CLI: no ambient lookup
    assert deploy_settings("dev", kube_context="c", root=tmp_path, environ={}).pulumi_root is None


def test_a_work_folder_of_its_own_keeps_stack_files_out_of_the_project(tmp_path):
    settings = deploy_settings(
        "engine-foundation", kube_context="c", root=tmp_path, work_dir=tmp_path / "w", environ={}
    )
    assert settings.work_dir == tmp_path / "w"
    assert settings.backend_url == f"file://{tmp_path / '.mlplat' / 'pulumi-state'}"


def test_the_inline_program_is_the_file_the_cli_runs():
    pulumi_yaml = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert ROOT / pulumi_yaml["main"] / "__main__.py" == PROGRAM
    assert pulumi_yaml["name"] == PROJECT


def test_a_target_with_state_of_its_own_keeps_backend_and_passphrase_there(tmp_path):
    settings = deploy_settings("dev", kube_context="c", root=tmp_path, state_dir=tmp_path / "sim", environ={})
    assert settings.backend_url == f"file://{tmp_path / 'sim' / 'pulumi-state'}"
    assert settings.passphrase_file == tmp_path / "sim" / "pulumi-passphrase"


def test_metrics_server_is_configured_only_when_turned_off(tmp_path):
    on = deploy_settings("dev", kube_context="c", root=tmp_path, environ={})
    off = deploy_settings("dev", kube_context="c", root=tmp_path, metrics_server=False, environ={})
    assert f"{PROJECT}:metricsServer" not in on.config
    assert off.config[f"{PROJECT}:metricsServer"] == "false"
