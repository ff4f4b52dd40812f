"""What a team's training function receives and returns: the whole API between ML code and the platform.

A blueprint names the function (`training.entryPoint: package.module:function`). The platform calls it
inside an MLflow run and does the rest: logs the metrics and the training data's reference
distribution, logs the model with its signature and an input example, registers a version, and tags
it with the owner, the training data digest and the code version. Those are what the promotion rules
check (policies/promotion/rules.yaml), so a version trained this way never fails the gate for a
missing tag; only for its metrics.

    def train(context: TrainingContext) -> TrainingResult:
        features, labels = read_fresh_labelled_data()
        model = LogisticRegression().fit(features, labels)
        return TrainingResult(model, features, {"accuracy": ...}, data_digest="sha256:...",
                              description="What it predicts, from what data, for whom.")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainingContext", "TrainingResult"]


@dataclass(frozen=True)
class TrainingContext:
    model: str  # the registered model name
    tenant: str  # the team that owns it (becomes the version's `owner` tag)
    trigger: str  # why this run: "drift", "schedule" or "manual"


@dataclass
class TrainingResult:
    model: Any  # the fitted model, of the blueprint's flavor (a scikit-learn estimator for "sklearn")
    features: Any  # the training features, a pandas DataFrame: its columns become the signature
    metrics: dict[str, float]  # what the promotion rules compare (e.g. accuracy)
    data_digest: str  # identifies the training data exactly (e.g. "sha256:..." of the snapshot)
    description: str  # the model card: what it predicts, from what, its limits
    params: dict[str, Any] = field(default_factory=dict)  # hyper-parameters, logged with the run
