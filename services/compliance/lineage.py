"""Which people a model version was trained on: the training lineage a GDPR erasure follows (ADR 0024).

A version already carries its lineage as tags (its run, the training data's digest, the feature
service it was trained on); a digest cannot say whether one person's rows were in the data. So the
training code that reads a feature store records the subjects of its training rows in its MLflow run,
as an artifact: `record_training_subjects(tenant, rows, join_keys)` beside `get_historical_features`.

Subjects are recorded as digests of (tenant, join key, value), never as the values themselves: the
lineage, like the audit log, must not become one more copy of the people it describes. A digest of an
integer key can be reversed by trying every key, so this is pseudonymisation, not anonymisation; what
it buys is that the artifact and the audit log hold no readable identifier and can be kept after the
person is erased.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

__all__ = ["LINEAGE_ARTIFACT", "SUBJECTS_TAG", "subject_digest", "record_training_subjects", "training_subjects"]

LINEAGE_ARTIFACT = "lineage/training-subjects.json"
SUBJECTS_TAG = "platform.mlops/training-subjects"  # on the run: how many subjects the artifact lists


def subject_digest(tenant: str, join_key: str, value: Any) -> str:
    """The name a person goes by in the lineage and the audit log: sha256 of tenant, key and value."""
    return hashlib.sha256(f"{tenant}\x00{join_key}\x00{value}".encode()).hexdigest()


def _digests(tenant: str, rows, join_keys: Iterable[str]) -> list[str]:
    return sorted({subject_digest(tenant, key, _plain(value)) for key in join_keys for value in rows[key]})


def _plain(value: Any) -> Any:
    """numpy integers as Python ints, so 7 and numpy.int64(7) digest alike."""
    return value.item() if hasattr(value, "item") else value


def record_training_subjects(tenant: str, rows, join_keys: Iterable[str]) -> int:
    """Log the subjects of the training rows (a DataFrame with the join key columns) in the active run."""
    import mlflow

    join_keys = list(join_keys)
    digests = _digests(tenant, rows, join_keys)
    mlflow.log_dict({"tenant": tenant, "joinKeys": join_keys, "subjects": digests}, LINEAGE_ARTIFACT)
    mlflow.set_tag(SUBJECTS_TAG, str(len(digests)))
    return len(digests)


def training_subjects(client, run_id: str) -> set[str] | None:
    """The subject digests a run recorded, or None when it recorded none (its lineage says nothing)."""
    import mlflow

    if not run_id or not any(item.path == LINEAGE_ARTIFACT for item in client.list_artifacts(run_id, "lineage")):
        return None
    return set(mlflow.artifacts.load_dict(f"runs:/{run_id}/{LINEAGE_ARTIFACT}")["subjects"])
