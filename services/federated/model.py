"""The model every device trains: multinomial logistic regression, written out in numpy.

Why by hand: a device's training step must be visible to read (the FedProx term is one line of it),
identical on every device and deterministic from a seed, so a test can recompute what any device
sent. Why this model: it is what scikit-learn's LogisticRegression predicts with, so the global
model is registered as a plain scikit-learn model and served by the platform's fast path, and the
benchmark's centralised baseline is the same model fitted on the pooled rows.

Parameters are two arrays, `[weights (features x classes), bias (classes)]`, float32: the list of
arrays Flower sends and SecAgg+ masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Params", "initial", "local_train", "evaluate", "to_sklearn", "update_norm"]

Params = list[np.ndarray]


def initial(features: int, classes: int) -> Params:
    return [np.zeros((features, classes), np.float32), np.zeros(classes, np.float32)]


def _probabilities(params: Params, x: np.ndarray) -> np.ndarray:
    logits = x @ params[0] + params[1]
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def local_train(
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    proximal_mu: float,
    seed: int,
) -> Params:
    """Mini-batch SGD on the device's rows, starting from the global model.

    FedProx (Li et al., 2020) adds mu/2 * ||w - w_global||^2 to the device's loss: its gradient,
    mu * (w - w_global), pulls the device back toward the global model, which limits how far a
    device that holds only two classes can drift in its few epochs. mu = 0 is plain FedAvg.
    """
    weights, bias = (p.astype(np.float64) for p in params)
    global_weights, global_bias = weights.copy(), bias.copy()
    rng = np.random.default_rng(seed)
    onehot = np.eye(weights.shape[1])[y]
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            batch = order[start : start + batch_size]
            error = _probabilities([weights, bias], x[batch]) - onehot[batch]
            grad_w = x[batch].T @ error / len(batch) + proximal_mu * (weights - global_weights)
            grad_b = error.mean(axis=0) + proximal_mu * (bias - global_bias)
            weights -= learning_rate * grad_w
            bias -= learning_rate * grad_b
    return [weights.astype(np.float32), bias.astype(np.float32)]


def evaluate(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model on labelled rows."""
    p = _probabilities([a.astype(np.float64) for a in params], x)
    loss = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())
    return loss, float((p.argmax(axis=1) == y).mean())


def update_norm(new: Params, old: Params) -> float:
    """L2 norm of the whole update, the quantity differential privacy clips."""
    return float(np.sqrt(sum(float(np.sum((a.astype(np.float64) - b) ** 2)) for a, b in zip(new, old, strict=True))))


def to_sklearn(params: Params, feature_names: list[str]) -> Any:
    """The global model as a fitted scikit-learn LogisticRegression (same predictions, same
    probabilities), to be logged with MLflow's sklearn flavor."""
    from sklearn.linear_model import LogisticRegression

    weights, bias = params
    model = LogisticRegression()
    model.coef_ = weights.T.astype(np.float64)
    model.intercept_ = bias.astype(np.float64)
    model.classes_ = np.arange(weights.shape[1])
    model.n_features_in_ = weights.shape[0]
    model.feature_names_in_ = np.asarray(feature_names, dtype=object)
    return model
