"""Keep Feast's MLflow plugin out of the model server's process.

Feast registers an MLflow request-header plugin (entry point `mlflow.request_header_provider`), and
MLflow loads every such plugin at its first REST call. Loading Feast's costs seconds and 100+ MB (it
imports the whole `feast` package: pandas, dask, protobuf), and that import sets
PROMETHEUS_MULTIPROC_DIR for the whole process, which would switch this server's /metrics to
prometheus-client's multiprocess mode over an empty folder. The model server reads Feast's tables
itself (ADR 0018) and never needs the plugin (it only forwards tokens of Feast's own data sources),
so the functions that call MLflow here skip it. Other processes (training, the demo) may load it.
"""

from __future__ import annotations

__all__ = ["without_feast_plugin"]

_GROUP = "mlflow.request_header_provider"


def without_feast_plugin() -> None:
    """Make MLflow's plugin discovery skip Feast's entry points (idempotent; call before MLflow's first
    request, which is when MLflow loads its request-header plugins)."""
    from mlflow.utils import plugins

    discover = plugins.get_entry_points
    if getattr(discover, "skips_feast", False):
        return

    def get_entry_points(group: str):
        found = discover(group)
        return [e for e in found if not e.value.startswith("feast.")] if group == _GROUP else found

    get_entry_points.skips_feast = True  # type: ignore[attr-defined]
    plugins.get_entry_points = get_entry_points
