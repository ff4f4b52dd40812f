"""The MLflow side of the gate: gather a version's facts, record decisions as tags, move aliases.

Decision tags on the version (all under `platform.mlops/`):
  decision             pass | fail
  decision-alias       the alias the decision was for
  decision-rules       the rule file's version
  decision-time        UTC, ISO 8601
  decision-audit       the audit-log hash of the decision (links tag and log)
Approvals are tags `platform.mlops/approval.<user>` = "approved" (see `mlplat approve`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.promotion_gate.evaluate import Facts

__all__ = ["TAG", "APPROVAL_PREFIX", "gather_facts", "record_decision", "move_alias", "approve", "client"]

TAG = "platform.mlops/"
APPROVAL_PREFIX = f"{TAG}approval."


def client(tracking_uri: str | None = None):
    """A registry client; a given URI also becomes the process's tracking URI, because resolving
    `models:/` URIs (signature, artifact sizes) goes through MLflow's global settings."""
    import mlflow
    from mlflow.tracking import MlflowClient

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri)


def _artifact_bytes(uri: str) -> int:
    import mlflow

    total = 0
    for item in mlflow.artifacts.list_artifacts(artifact_uri=uri):
        if item.is_dir:
            total += _artifact_bytes(f"{uri.rstrip('/')}/{item.path.rsplit('/', 1)[-1]}")
        else:
            total += item.file_size or 0
    return total


def gather_facts(mlflow_client, model: str, version: str, alias: str) -> Facts:
    import mlflow

    mv = mlflow_client.get_model_version(model, version)
    run = mlflow_client.get_run(mv.run_id) if mv.run_id else None
    tags = dict(mv.tags or {})
    author = tags.get("owner") or (run.data.tags.get("mlflow.user") if run else "") or (mv.user_id or "")
    info = mlflow.models.get_model_info(f"models:/{model}/{version}")
    description = (mv.description or "").strip() or (mlflow_client.get_registered_model(model).description or "")
    champion_version, champion_metrics = None, {}
    try:
        holder = mlflow_client.get_model_version_by_alias(model, alias)
        champion_version = str(holder.version)
        if holder.run_id:
            champion_metrics = dict(mlflow_client.get_run(holder.run_id).data.metrics)
    except Exception as exc:  # no version holds the alias yet
        if getattr(exc, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
    return Facts(
        model=model,
        version=str(version),
        author=author,
        metrics=dict(run.data.metrics) if run else {},
        tags=tags,
        description=description,
        has_signature=info.signature is not None,
        has_input_example=info.saved_input_example_info is not None,
        artifact_bytes=_artifact_bytes(f"models:/{model}/{version}"),
        approvals=tuple(
            sorted(
                k.removeprefix(APPROVAL_PREFIX)
                for k, v in tags.items()
                if k.startswith(APPROVAL_PREFIX) and v == "approved"
            )
        ),
        champion_version=champion_version,
        champion_metrics=champion_metrics,
        alias=alias,
    )


def record_decision(
    mlflow_client, model: str, version: str, alias: str, decision: str, rules_version: str, audit_hash: str
) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in (
        ("decision", decision),
        ("decision-alias", alias),
        ("decision-rules", rules_version),
        ("decision-time", now),
        ("decision-audit", audit_hash),
    ):
        mlflow_client.set_model_version_tag(model, version, f"{TAG}{key}", value)


def move_alias(mlflow_client, model: str, alias: str, version: str) -> None:
    mlflow_client.set_registered_model_alias(model, alias, version)


def approve(mlflow_client, model: str, version: str, approver: str) -> None:
    mlflow_client.set_model_version_tag(model, version, f"{APPROVAL_PREFIX}{approver}", "approved")
