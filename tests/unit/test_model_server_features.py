"""Entity keys in, features fetched, policies applied: FeatureBinding over an in-memory online store
(the real stores are tested in tests/services/test_feature_store.py)."""

from __future__ import annotations

import numpy as np
import pytest

from services.features.encoding import entity_key
from services.features.online import OnlineStoreUnavailable
from services.features.spec import FeatureSpec, ViewSpec
from services.model_server.codec import ClientError, Signature
from services.model_server.features import FeatureBinding

NOW = 1_800_000_000.0
VIEW = ViewSpec("flower_measurements", "recsys_flower_measurements", 3600, ("a", "b"))


class FakeStore:
    """What the online tables hold, by entity key: (event time, {feature: value})."""

    where = "a fake store"

    def __init__(self, rows: dict[int, tuple[float, dict]], down: bool = False):
        self.rows, self.down, self.reads = rows, down, []

    def read(self, tables, keys):
        self.reads.append((tuple(tables), list(keys)))
        if self.down:
            raise OnlineStoreUnavailable("the online feature store (a fake store) is unreachable: refused")
        by_key = {entity_key(("flower_id",), ("int64",), (k,)): v for k, v in self.rows.items()}
        return {(0, key): by_key[key] for key in keys if key in by_key}

    def close(self):
        pass


def _binding(store: FakeStore, **policy) -> FeatureBinding:
    spec = FeatureSpec("ranker", "ranker_v1", "recsys", ("flower_id",), ("int64",), (VIEW,), **policy)
    return FeatureBinding(spec, store, clock=lambda: NOW)


FRESH = {1: (NOW - 60, {"a": 1.0, "b": 2.0}), 2: (NOW - 120, {"a": 3.0, "b": 4.0})}


@pytest.mark.parametrize(
    ("document", "v2"),
    [
        ({"inputs": [{"name": "flower_id", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}, True),
        ({"dataframe_records": [{"flower_id": 1}, {"flower_id": 2}]}, False),
        ({"dataframe_split": {"columns": ["flower_id"], "data": [[1], [2]]}}, False),
        ({"instances": [{"flower_id": 1}, {"flower_id": 2}]}, False),
        ({"inputs": {"flower_id": [1, 2]}}, False),
        ({"inputs": [{"flower_id": 1.0}, {"flower_id": 2}]}, False),  # a whole float is a key
    ],
)
def test_every_request_format_carries_entity_keys_by_join_key_name(document, v2):
    assert _binding(FakeStore(FRESH)).rows(document, v2) == [(1,), (2,)]


def test_entity_keys_sent_as_raw_bytes_are_read_too():
    """The binary extension and gRPC give a key tensor's data as an array (tensors.py), not a list."""
    from services.model_server.tensors import from_raw, to_raw

    keys = from_raw(to_raw(np.array([1, 2]), "INT64"), "INT64", "inputs[0]")
    document = {"inputs": [{"name": "flower_id", "shape": [2], "datatype": "INT64", "data": keys}]}
    assert _binding(FakeStore(FRESH)).rows(document, True) == [(1,), (2,)]


@pytest.mark.parametrize(
    ("document", "v2"),
    [
        ({"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}, True),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}, False),
        ({"instances": [[1.0, 2.0]]}, False),
        ({"inputs": {"a": [1], "b": [2]}}, False),
        ([1, 2], False),
    ],
)
def test_feature_values_are_not_mistaken_for_entity_keys(document, v2):
    assert _binding(FakeStore(FRESH)).rows(document, v2) is None


@pytest.mark.parametrize(
    ("document", "v2", "field"),
    [
        ({"dataframe_records": [{"flower_id": 1.5}]}, False, "dataframe_records[0].flower_id"),
        ({"dataframe_records": [{"flower_id": True}]}, False, "dataframe_records[0].flower_id"),
        ({"dataframe_records": [{"flower_id": "7"}]}, False, "dataframe_records[0].flower_id"),
        ({"dataframe_records": [{"flower_id": 2**63}]}, False, "dataframe_records[0].flower_id"),
        ({"dataframe_records": [{"flower_id": 1}, {"flower": 2}]}, False, "dataframe_records[1]"),
        (
            {"inputs": [{"name": "flower_id", "shape": [1], "datatype": "BYTES", "data": ["1"]}]},
            True,
            "inputs[flower_id].datatype",
        ),
        (
            {"inputs": [{"name": "flower_id", "shape": [0], "datatype": "INT64", "data": []}]},
            True,
            "inputs[flower_id].data",
        ),
    ],
)
def test_a_bad_entity_key_gets_422_naming_its_field(document, v2, field):
    with pytest.raises(ClientError) as caught:
        _binding(FakeStore(FRESH)).rows(document, v2)
    assert caught.value.status in (400, 422) and caught.value.field == field


def test_all_keys_are_read_in_one_query_and_the_batch_follows_the_signature_order():
    store = FakeStore(FRESH)
    signature = Signature(("b", "a"), ("double", "double"), (True, True))
    batch, headers = _binding(store).batch([(1,), (2,), (1,)], signature)
    assert len(store.reads) == 1 and len(store.reads[0][1]) == 2  # two distinct keys, one query
    assert batch.tolist() == [[2.0, 1.0], [4.0, 3.0], [2.0, 1.0]] and headers == []


def test_an_unknown_entity_is_rejected_with_404_naming_it():
    with pytest.raises(ClientError) as caught:
        _binding(FakeStore(FRESH)).batch([(1,), (99,)], None)
    assert caught.value.status == 404 and caught.value.field == "flower_id"
    assert (
        "flower_id=99" in caught.value.message
        and "no row in feature view 'flower_measurements'" in caught.value.message
    )


def test_an_unknown_entity_gets_the_declared_defaults_and_is_flagged():
    binding = _binding(FakeStore(FRESH), missing_entity="default", defaults=(5.0, 6.0))
    batch, headers = binding.batch([(1,), (99,)], None)
    assert batch.tolist() == [[1.0, 2.0], [5.0, 6.0]]
    assert (b"x-feature-defaults", b"1") in headers


def test_a_missing_feature_value_takes_its_default_too():
    store = FakeStore({1: (NOW - 60, {"a": 1.0, "b": None})})
    batch, _ = _binding(store, missing_entity="default", defaults=(5.0, 6.0)).batch([(1,)], None)
    assert batch.tolist() == [[1.0, 6.0]]
    with pytest.raises(ClientError, match="feature 'b' has no value"):
        _binding(store).batch([(1,)], None)


def test_a_value_older_than_the_ttl_is_missing_unless_stale_values_are_allowed():
    store = FakeStore({1: (NOW - 7200, {"a": 1.0, "b": 2.0})})
    with pytest.raises(ClientError) as caught:
        _binding(store).batch([(1,)], None)
    assert caught.value.status == 404 and "2.0h old, over its TTL of 1.0h" in caught.value.message
    batch, headers = _binding(store, allow_stale=True).batch([(1,)], None)
    assert batch.tolist() == [[1.0, 2.0]] and (b"x-feature-stale", b"flower_measurements") in headers


def test_an_unreachable_store_is_a_503_with_its_message():
    with pytest.raises(ClientError) as caught:
        _binding(FakeStore(FRESH, down=True)).batch([(1,)], None)
    assert caught.value.status == 503 and "unreachable" in caught.value.message


def test_a_version_is_served_only_from_the_service_it_was_trained_on():
    binding = _binding(FakeStore(FRESH))
    signature = Signature(("a", "b"), ("double", "double"), (True, True))
    assert binding.refusal({"platform.mlops/feature-service": "ranker_v1"}, signature) is None
    assert "trained on no feature service" in binding.refusal({}, signature)
    assert "'ranker_v0'" in binding.refusal({"platform.mlops/feature-service": "ranker_v0"}, signature)
    other = Signature(("a", "c"), ("double", "double"), (True, True))
    assert "are not the service's features" in binding.refusal({"platform.mlops/feature-service": "ranker_v1"}, other)


def test_the_batch_is_float64():
    batch, _ = _binding(FakeStore(FRESH)).batch([(1,)], None)
    assert batch.dtype == np.float64
