"""A compiled predict for linear scikit-learn models: the arithmetic without the validation layers.

scikit-learn's `predict` spends most of a one-row call validating its input (dtype, finiteness,
dataframe detection), which the server has already done against the signature. For linear models
the prediction is one matrix product, so `compile_predict` returns that product as a numpy function.

It is only used when it reproduces the estimator's own `predict` exactly on sample rows at load
time (`verified_fast_predict`); anything else, and every other estimator, uses `estimator.predict`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["compile_predict", "verified_fast_predict"]

Predict = Callable[[np.ndarray], np.ndarray]

_CLASSIFIERS = {"LogisticRegression", "SGDClassifier", "RidgeClassifier", "LinearSVC", "Perceptron"}
_REGRESSORS = {"LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor", "LinearSVR", "HuberRegressor"}


def compile_predict(estimator) -> Predict | None:
    kind = type(estimator).__name__
    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", 0.0)
    if coef is None:
        return None
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    if kind in _CLASSIFIERS:
        classes = np.asarray(estimator.classes_)
        if coef.ndim == 2 and coef.shape[0] > 1:
            weights = coef.T.copy()

            def predict_multiclass(batch: np.ndarray) -> np.ndarray:
                return classes[np.argmax(batch @ weights + intercept, axis=1)]

            return predict_multiclass
        weights = coef.reshape(-1)

        def predict_binary(batch: np.ndarray) -> np.ndarray:
            return classes[(batch @ weights + intercept.reshape(-1)[0] > 0).astype(np.intp)]

        return predict_binary
    if kind in _REGRESSORS:
        if coef.ndim == 1:

            def predict_single(batch: np.ndarray) -> np.ndarray:
                return batch @ coef + intercept

            return predict_single

        weights = coef.T.copy()

        def predict_multi(batch: np.ndarray) -> np.ndarray:
            return batch @ weights + intercept

        return predict_multi
    return None


def verified_fast_predict(estimator, samples: np.ndarray) -> tuple[Predict, bool]:
    """(the predict to use, whether it is the compiled one). Falls back unless outputs match exactly."""
    fast = compile_predict(estimator)
    if fast is None or samples.size == 0:
        return estimator.predict, False
    expected = np.asarray(estimator.predict(samples))
    try:
        got = np.asarray(fast(samples))
    except Exception:
        return estimator.predict, False
    same = got.shape == expected.shape and (
        np.array_equal(got, expected)
        if expected.dtype.kind not in "fc"
        else np.allclose(got, expected, rtol=0, atol=1e-9)
    )
    return (fast, True) if same else (estimator.predict, False)
