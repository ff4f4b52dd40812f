"""`mlplat render` writes one file per object, one folder per namespace, secrets masked."""

from __future__ import annotations

import yaml

from infra.render import MASK
from services.cli import main


def test_render_writes_every_object_in_namespace_folders_with_secrets_masked(tmp_path, capsys):
    assert main(["render", "--blueprint", "foundation", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.rglob("*.yaml"))
    folders = {f.parent.name for f in files}
    assert {"_cluster", "mlops-system", "mlops-monitoring", "data-science", "kube-system"} <= folders
    assert f"foundation: {len(files)} objects" in capsys.readouterr().out
    secret = yaml.safe_load((tmp_path / "mlops-system" / "secret-mlflow-db-credentials.yaml").read_text())
    assert secret["stringData"]["POSTGRES_PASSWORD"] == MASK
    deployment = yaml.safe_load((tmp_path / "data-science" / "deployment-iris.yaml").read_text())
    assert list(deployment)[:4] == ["apiVersion", "kind", "metadata", "spec"]


def test_render_of_a_bad_blueprint_fails_with_the_field_path(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: mlops-platform/v1\nkind: Blueprint\nmetadata: {name: x}\ntenants: []\n")
    assert main(["render", "--blueprint", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "tenants: list should have at least 1 item" in capsys.readouterr().err
