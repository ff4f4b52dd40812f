"""The Automation API workspace: project, stack, config, backend and secrets provider decisions."""

from __future__ import annotations

import stat

from infra.automation import PROJECT, deploy_settings, ensure_passphrase


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
