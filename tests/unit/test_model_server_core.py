"""The model server's pure core: URIs, request decoding, the compiled linear fast path, drift (PSI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier

from services.model_server.codec import ClientError, Signature, decode_invocations, decode_v2
from services.model_server.fastpath import compile_predict, verified_fast_predict
from services.model_server.reference import DriftWindow, from_json, psi, reference_from_data, to_json
from services.model_server.uris import ModelRef, parse_model_uri

SIG = Signature(("a", "b"), ("double", "long"), (True, True))


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


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


def test_a_request_larger_than_the_window_is_sampled_evenly_to_one_window():
    data = np.random.default_rng(3).normal(size=(10_000, 2))
    reference = reference_from_data(data[:5000], ["x", "y"])
    window = DriftWindow(reference, ["x", "y"], size=500)
    large = np.concatenate([data[5000:7500], data[7500:] + 2.0])  # the second half has drifted
    result = window.add(large)
    sample = large[np.linspace(0, len(large) - 1, 500).astype(int)]
    expected = {
        name: psi(reference[name].proportions, np.bincount(
            np.searchsorted(reference[name].edges, sample[:, i], side="right"), minlength=10))
        for i, name in enumerate(["x", "y"])
    }  # fmt: skip
    assert result == pytest.approx(expected)
    assert min(result.values()) > 0.2  # half of the sample drifted: the window sees it


_FLOAT_SIG = Signature(("a", "b"), ("double", "double"), (True, True))
_V2_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.text(max_size=2),
)


@st.composite
def _v2_documents(draw):
    """V2 bodies around the common one-matrix request: right and wrong shapes, sizes, types and values."""
    rows = draw(st.sampled_from([1, 2, 3, 0, -1, True, 1.0, "2"]))
    width = draw(st.sampled_from([2, 2, 1, 3, 0]))
    count = draw(st.sampled_from(["fill", "short", "long"]))
    size = rows * width if isinstance(rows, int) and not isinstance(rows, bool) and rows > 0 else 2
    size += {"fill": 0, "short": -1, "long": 1}[count]
    values = draw(st.lists(st.one_of(st.floats(-1e6, 1e6), _V2_VALUES), min_size=max(size, 0), max_size=max(size, 0)))
    data = values
    if draw(st.booleans()) and isinstance(rows, int) and rows > 0 and len(values) == rows * width and width > 0:
        data = [values[i * width : (i + 1) * width] for i in range(rows)]  # nested rows are valid V2 too
    datatype = draw(st.sampled_from(["FP64", "INT64", "BYTES"]))
    tensor = {"name": "x", "shape": [rows, width], "datatype": datatype, "data": data}
    if draw(st.booleans()):
        del tensor[draw(st.sampled_from(["name", "shape", "datatype", "data"]))]
    document = {"inputs": [tensor], "id": "r1"}
    if draw(st.integers(0, 9)) == 0:
        document["inputs"].append({"name": "y", "shape": [1], "datatype": "FP64", "data": [1.0]})
    return document


def _one(shape, data, datatype="FP64"):
    return {"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "data": data}]}


@settings(max_examples=600, deadline=None)
@given(document=_v2_documents(), signature=st.sampled_from([_FLOAT_SIG, SIG, None]))
@example(document=_one([2, 0], []), signature=None)  # an empty column count is an error, not a batch
@example(document=_one([1, 2], [True, 1]), signature=_FLOAT_SIG)
@example(document=_one([1, 2], [1, None]), signature=_FLOAT_SIG)
@example(document=_one([1, 2], [[1, 2]]), signature=_FLOAT_SIG)
@example(document=_one([1, 3], [1, 2, 3]), signature=None)
def test_the_v2_shortcut_answers_exactly_like_the_general_path(document, signature, monkeypatch_module):
    """decode_v2 takes a shortcut for one finite [rows, columns] tensor; it must accept the same
    bodies with the same batch, and leave every error to the general path."""
    from services.model_server import codec

    def outcome(decode):
        try:
            batch, request_id = decode(document, signature)
            return "ok", batch.dtype.str, batch.shape, batch.tobytes(), request_id  # bit for bit (NaN too)
        except ClientError as error:
            return "error", error.status, error.message, error.field

    with_shortcut = outcome(codec.decode_v2)
    monkeypatch_module.setattr(codec, "_v2_single_matrix", lambda document, signature: None)
    try:
        general = outcome(codec.decode_v2)
    finally:
        monkeypatch_module.undo()
    assert with_shortcut == general


def test_the_v2_shortcut_is_taken_for_the_common_request():
    from services.model_server import codec

    document = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1, 2.5, 3, 4]}]}
    assert codec._v2_single_matrix(document, _FLOAT_SIG).tolist() == [[1.0, 2.5], [3.0, 4.0]]
    assert codec._v2_single_matrix(document, SIG) is None  # an integer column: the general path checks it
    document["inputs"][0]["data"][0] = float("nan")
    assert codec._v2_single_matrix(document, _FLOAT_SIG) is None
    document["inputs"][0]["data"] = np.array([1, 2.5, 3, 4], dtype=np.float32)  # read from raw bytes
    assert codec._v2_single_matrix(document, _FLOAT_SIG).tolist() == [[1.0, 2.5], [3.0, 4.0]]


@st.composite
def _v2_array_documents(draw):
    """V2 bodies whose one tensor's data came as raw bytes (the binary extension, gRPC): a flat array of
    the declared type, of the right size or not, finite or not."""
    from services.model_server.tensors import DATATYPES

    datatype = draw(st.sampled_from(["FP64", "FP32", "FP16", "INT64", "INT8", "UINT16", "BOOL"]))
    rows, width = draw(st.sampled_from([1, 2, 3, 0])), draw(st.sampled_from([2, 2, 1, 3]))
    size = max(rows * width + draw(st.sampled_from([0, 0, -1, 1])), 0)
    dtype = DATATYPES[datatype]
    if dtype.kind == "f":
        values = draw(
            st.lists(
                st.floats(width=16 if datatype == "FP16" else 32, allow_subnormal=False), min_size=size, max_size=size
            )
        )
    elif dtype.kind == "b":
        values = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    else:
        info = np.iinfo(dtype)
        values = draw(
            st.lists(st.integers(max(int(info.min), -(2**31)), min(int(info.max), 2**31)), min_size=size, max_size=size)
        )
    data = np.array(values, dtype=dtype)
    if draw(st.integers(0, 5)) == 0:
        data = data.reshape(-1, 1)  # not flat: only the general path may judge it
    return {"inputs": [{"name": "x", "shape": [rows, width], "datatype": datatype, "data": data}], "id": "r1"}


@settings(max_examples=400, deadline=None)
@given(document=_v2_array_documents(), signature=st.sampled_from([_FLOAT_SIG, SIG, None]))
def test_the_v2_shortcut_answers_exactly_like_the_general_path_for_raw_tensors(document, signature, monkeypatch_module):
    from services.model_server import codec

    def outcome(decode):
        try:
            batch, request_id = decode(document, signature)
            return "ok", batch.dtype.str, batch.shape, batch.tobytes(), request_id
        except ClientError as error:
            return "error", error.status, error.message, error.field

    with_shortcut = outcome(codec.decode_v2)
    monkeypatch_module.setattr(codec, "_v2_single_matrix", lambda document, signature: None)
    try:
        general = outcome(codec.decode_v2)
    finally:
        monkeypatch_module.undo()
    assert with_shortcut == general
