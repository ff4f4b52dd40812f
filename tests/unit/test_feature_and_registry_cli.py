"""Usage errors of `mlplat features` and `mlplat registry server|bootstrap` name the fix, without a traceback."""

from __future__ import annotations

import pytest

from services.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["features", "apply", "--repo", "/no/such/repo"], "no feature_store.yaml; the repository is generated"),
        (["features", "serve", "--repo", "/no/such/repo"], "--repo /no/such/repo: no feature_store.yaml there"),
        (
            ["features", "materialize", "--repo", "/r", "--tenant", "recsys", "--schedule", "every day"],
            "--schedule 'every day'",
        ),
        (["features", "repo", "out", "--blueprint", "multi-tenant", "--tenant", "fraud"], "declares no features"),
        (["features", "repo", "out", "--blueprint", "multi-tenant", "--tenant", "nobody"], "no such tenant"),
        (["registry", "server", "--", "--port", "5000"], "give --auth-database-uri"),
        (["registry", "bootstrap", "--plan", "/no/plan.json", "--tracking-uri", "http://x"], "--plan /no/plan.json"),
    ],
)
def test_usage_errors_name_the_fix_without_a_traceback(argv, message, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("MLPLAT_AUTH_DATABASE_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err, err


def test_the_registry_server_refuses_to_start_without_an_admin_password(capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_PASSWORD", raising=False)
    code = main(["registry", "server", "--auth-database-uri", "sqlite:///x.db", "--", "--port", "5000"])
    assert code == 2 and "MLflow creates its admin with it" in capsys.readouterr().err


def test_a_missing_credentials_file_is_named(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MLPLAT_REGISTRY_CREDENTIALS", str(tmp_path / "nobody.ini"))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    code = main(["blueprint", "validate", "foundation"])
    assert code == 2 and f"{tmp_path / 'nobody.ini'}: no such credentials file" in capsys.readouterr().err
