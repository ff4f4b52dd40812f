"""The model server's pure core: URIs, request decoding, the compiled linear fast path, drift (PSI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier

from services.model_server.codec import ClientError, Signature, decode_invocations, decode_v2
from services.model_server.fastpath import compile_predict, verified_fast_predict
from services.model_server.reference import DriftWindow, from_json, psi, reference_from_data, to_json
from services.model_server.uris import ModelRef, parse_model_uri

SIG = Signature(("a", "b"), ("double", "long"), (True, True))


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        ("models:/iris@champion", ModelRef("iris", alias="champion")),
        ("models:/fraud.scorer@challenger", ModelRef("fraud.scorer", alias="challenger")),
        ("models:/iris/3", ModelRef("iris", version="3")),
    ],
)
def test_model_uris_parse(uri, ref):
    assert parse_model_uri(uri) == ref and ref.uri == uri


@pytest.mark.parametrize("uri", ["iris", "models:/iris", "models:/iris@", "runs:/abc/model", "models:/a/b/c"])
def test_bad_model_uris_say_what_a_uri_looks_like(uri):
    with pytest.raises(ValueError, match=r"use models:/<name>@<alias>"):
        parse_model_uri(uri)


def test_integer_column_rejects_fractions_and_infinity_is_rejected():
    with pytest.raises(ClientError, match="'b' must be an integer") as error:
        decode_invocations({"instances": [[1.0, 2.5]]}, SIG)
    assert error.value.status == 422 and error.value.field == "b"
    with pytest.raises(ClientError, match="'a' must be finite"):
        decode_v2({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1e400, 1]}]}, SIG)


def test_v2_rejects_unsupported_datatypes_and_duplicate_names():
    with pytest.raises(ClientError, match="datatype 'BYTES' is not supported"):
        decode_v2({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}, SIG)
    tensor = {"name": "a", "shape": [1], "datatype": "FP64", "data": [1]}
    with pytest.raises(ClientError, match="tensor names must be unique"):
        decode_v2({"inputs": [tensor, tensor]}, SIG)


def test_columns_dict_and_records_decode_to_signature_order():
    batch = decode_invocations({"inputs": {"b": [2, 4], "a": [1.5, 3.5]}}, SIG)
    assert batch.tolist() == [[1.5, 2.0], [3.5, 4.0]]
    batch = decode_invocations({"dataframe_records": [{"b": 7, "a": 0.5}]}, SIG)
    assert batch.tolist() == [[0.5, 7.0]]


IRIS = load_iris()
DIABETES = load_diabetes()


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target),
        LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target == 0),  # binary
        LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target_names[IRIS.target]),  # string classes
        SGDClassifier(random_state=0).fit(IRIS.data, IRIS.target),
    ],
)
def test_compiled_classifiers_predict_exactly_like_sklearn(estimator):
    rows = np.random.default_rng(1).uniform(0, 8, size=(500, 4))
    fast = compile_predict(estimator)
    assert fast is not None
    assert np.array_equal(fast(rows), estimator.predict(rows))


@pytest.mark.parametrize(
    "estimator", [LinearRegression().fit(DIABETES.data, DIABETES.target), Ridge().fit(DIABETES.data, DIABETES.target)]
)
def test_compiled_regressors_predict_like_sklearn(estimator):
    rows = np.random.default_rng(2).normal(size=(200, DIABETES.data.shape[1]))
    assert np.allclose(compile_predict(estimator)(rows), estimator.predict(rows), rtol=0, atol=1e-9)


def test_non_linear_models_keep_their_own_predict():
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(IRIS.data, IRIS.target)
    predict, compiled = verified_fast_predict(forest, IRIS.data[:10])
    assert not compiled and predict == forest.predict


def test_a_compiled_predict_that_disagrees_is_not_used():
    model = LogisticRegression(max_iter=500).fit(IRIS.data, IRIS.target)
    model.coef_ = model.coef_ * -1  # the compiled copy is taken first...
    fast = compile_predict(model)
    model.coef_ = model.coef_ * -1  # ...then the estimator changes: they now disagree
    assert not np.array_equal(fast(IRIS.data), model.predict(IRIS.data))


def test_psi_is_zero_for_the_training_distribution_and_large_for_a_shift():
    data = np.random.default_rng(0).normal(size=(5000, 2))
    reference = reference_from_data(data, ["x", "y"])
    same = np.bincount(np.searchsorted(reference["x"].edges, data[:, 0], side="right"), minlength=10)
    assert psi(reference["x"].proportions, same) == pytest.approx(0.0, abs=1e-9)
    shifted = np.bincount(np.searchsorted(reference["x"].edges, data[:, 0] + 1.0, side="right"), minlength=10)
    assert psi(reference["x"].proportions, shifted) > 0.2


def test_reference_round_trips_through_its_json_format():
    reference = reference_from_data(IRIS.data, ["a", "b", "c", "d"])
    document = json.loads(to_json(reference))
    assert document["format"] == "mlops-platform/feature-distribution/v1"
    back = from_json(to_json(reference))
    assert np.array_equal(back["c"].edges, reference["c"].edges)
    with pytest.raises(ValueError, match="not a feature distribution"):
        from_json(json.dumps({"format": "other", "features": {}}))


def test_drift_window_reports_once_per_window_of_rows():
    reference = reference_from_data(IRIS.data, ["a", "b", "c", "d"])
    window = DriftWindow(reference, ["a", "b", "c", "d"], size=100)
    reports = [window.add(IRIS.data[i : i + 1]) for i in range(150)]
    produced = [r for r in reports if r is not None]
    assert len(produced) == 1 and set(produced[0]) == {"a", "b", "c", "d"}
    drifted = DriftWindow(reference, ["a", "b", "c", "d"], size=100)
    result = drifted.add(IRIS.data[:100] * 3)
    assert result is not None and min(result.values()) > 0.2
