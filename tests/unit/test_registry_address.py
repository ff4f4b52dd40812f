"""Registry addresses: what MLflow's client accepts is accepted; the rest is refused with the forms that work."""

from __future__ import annotations

import pytest

from services.registry.address import is_server, problem


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:5000",
        "https://mlflow.example.com",
        "sqlite:///mlflow.db",
        "sqlite:////abs/path/mlflow.db",
        "postgresql+psycopg2://user:pw@db:5432/mlflow",
        "mysql://db/mlflow",
        "file:///srv/mlruns",
        "./mlruns",
        "/srv/mlruns",
    ],
)
def test_every_address_mlflow_accepts_is_accepted(uri):
    assert problem(uri) is None


def test_only_servers_take_the_rest_fast_path():
    assert is_server("http://x:5000") and is_server("https://x")
    assert not is_server("sqlite:///mlflow.db") and not is_server("./mlruns")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "no registry address: set MLFLOW_TRACKING_URI or pass --tracking-uri"),
        ("databricks", None),
        ("databricks://profile", "Databricks workspaces are not supported"),
        ("ftp://host/x", "'ftp://host/x' is not a registry address MLflow accepts"),
    ],
)
def test_other_addresses_are_refused_saying_what_works(uri, message):
    found = problem(uri)
    if message is None:  # a bare word is a relative folder to MLflow: a file store
        assert found is None
    else:
        assert found is not None and message in found
