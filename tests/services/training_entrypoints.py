"""Training entry points for the tests: one that fails the way real training code fails."""

from __future__ import annotations

from services.training.contract import TrainingContext, TrainingResult


def broken(context: TrainingContext) -> TrainingResult:
    raise RuntimeError(f"the feature store is down: no data to retrain {context.model}")


def not_a_result(context: TrainingContext):
    return {"accuracy": 0.99}
