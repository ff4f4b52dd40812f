"""What a registry address (MLflow's tracking URI) may be, for every command that takes one.

The platform's commands accept what MLflow's own client accepts: an MLflow server (`http://`,
`https://`), a SQL store MLflow opens directly (`sqlite:///`, `postgresql://`, `mysql://`, `mssql://`)
and a local file store (`file:///path` or a plain path). A command may take a fast path for some of
them (batch scoring speaks REST to a server) and MLflow's client for the rest, but none refuses an
address MLflow would take. Databricks workspaces are out of scope.
"""

from __future__ import annotations

import urllib.parse

__all__ = ["is_server", "problem"]

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def is_server(uri: str) -> bool:
    """True for an MLflow server, which answers MLflow's REST API."""
    return uri.startswith(("http://", "https://"))


def problem(uri: str) -> str | None:
    """Why `uri` is not a registry address this platform can use, or None when it is one."""
    if not uri:
        return (
            "no registry address: set MLFLOW_TRACKING_URI or pass --tracking-uri (an MLflow server such as "
            "http://127.0.0.1:5000, which `mlplat status` shows, or a store such as sqlite:///mlflow.db)"
        )
    scheme = urllib.parse.urlparse(uri).scheme.split("+", 1)[0]
    if is_server(uri) or scheme in (*SQL_SCHEMES, "file", ""):
        return None
    if scheme == "databricks":
        return f"{uri!r}: Databricks workspaces are not supported by this platform; use an MLflow server or store"
    return (
        f"{uri!r} is not a registry address MLflow accepts: use http(s)://<server>, sqlite:///<file>, "
        "postgresql://..., file:///<folder> or a folder path"
    )
