"""The `mlplat serve` arguments for a set of blueprint models: one function, used by the cluster's
Deployments (infra/components/model_service.py) and by standalone (services/standalone/plan.py), so
both run the model server the same way."""

from __future__ import annotations

from collections.abc import Sequence

from blueprints.schema import Model

__all__ = ["serve_args"]


def serve_args(
    models: Sequence[Model], host: str, port: int, features_file: str | None = None, grpc_port: int | None = None
) -> list[str]:
    """`serve` and its flags: champions first, then each model's challenger (weighted) and shadow, and
    the feature specs when a model reads a feature service. `grpc_port`: where the gRPC server listens
    (0 = off; None leaves the server's default, 8081)."""
    args = ["serve", *(f"models:/{m.name}@{m.alias}" for m in models), "--host", host, "--port", str(port)]
    if grpc_port is not None:
        args += ["--grpc-port", str(grpc_port)]
    if features_file and any(m.features for m in models):
        args += ["--features", features_file]
    for model in models:
        if model.canary_weight:
            weight = str(model.canary_weight) if len(models) == 1 else f"{model.name}={model.canary_weight}"
            args += ["--challenger", f"models:/{model.name}@{model.challenger_alias}", "--challenger-weight", weight]
        if model.shadow:
            args += ["--shadow", f"models:/{model.name}@{model.shadow_alias}"]
    return args
