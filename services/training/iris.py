"""The training function the shipped blueprints name: scikit-learn's LogisticRegression on iris.

A stand-in for a team's real training code, which would read a fresh snapshot of labelled data (the
inputs that drifted, with their outcomes) instead of a data set that never changes. Everything else
is what real training code returns: the fitted model, its training features, held-out metrics, a
digest that identifies the data, and a model card.
"""

from __future__ import annotations

import hashlib

from services.training.contract import TrainingContext, TrainingResult

__all__ = ["train"]


def train(context: TrainingContext) -> TrainingResult:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    data = load_iris(as_frame=True)
    features = data.data.set_axis(["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1)
    train_x, test_x, train_y, test_y = train_test_split(
        features, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    model = LogisticRegression(C=1.0, max_iter=500).fit(train_x, train_y)
    digest = hashlib.sha256(features.to_numpy().tobytes() + data.target.to_numpy().tobytes()).hexdigest()
    return TrainingResult(
        model=model,
        features=train_x,
        metrics={"accuracy": float(model.score(test_x, test_y))},
        data_digest=f"sha256:{digest}",
        description=(
            f"{context.model} for {context.tenant}: iris species from four flower measurements, "
            f"LogisticRegression retrained by the platform (trigger: {context.trigger}). "
            "Intended for the platform walkthrough; not for real decisions."
        ),
        params={"C": 1.0, "estimator": "LogisticRegression"},
    )
