"""The online store's encodings, read without Feast (services/features/encoding.py), agree with Feast's
own encoders for every entity key and feature type the blueprint allows: a Feast release that changed
either would fail here."""

from __future__ import annotations

import math

import pytest

from blueprints.schema import ENTITY_TYPES, FEATURE_TYPES
from services.features.encoding import EncodingError, decode_value, entity_key


@pytest.fixture(scope="module")
def feast_encoding():
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return serialize_entity_key, EntityKey, Value


@pytest.mark.parametrize(
    ("keys", "types", "values"),
    [
        (("flower_id",), ("int64",), (42,)),
        (("flower_id",), ("int64",), (-(2**63),)),
        (("customer",), ("string",), ("ünïcode-42",)),
        (("store", "day"), ("string", "int64"), ("berlin", 20261125)),  # two keys: Feast sorts them by name
    ],
)
def test_entity_keys_are_serialised_as_feast_does(feast_encoding, keys, types, values):
    serialize, EntityKey, Value = feast_encoding
    protos = [Value(int64_val=v) if t == "int64" else Value(string_val=v) for t, v in zip(types, values, strict=True)]
    expected = serialize(EntityKey(join_keys=list(keys), entity_values=protos), entity_key_serialization_version=3)
    assert entity_key(keys, types, values) == expected


def test_the_blueprint_entity_types_are_the_ones_encoded():
    assert set(ENTITY_TYPES) == {"int64", "string"}


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("float64", "double_val", 5.1),
        ("float64", "double_val", -0.0),
        ("float64", "double_val", 1e308),
        ("float32", "float_val", 3.5),
        ("int64", "int64_val", 2**62),
        ("int64", "int64_val", -7),
        ("int32", "int32_val", -(2**31)),
        ("int32", "int32_val", 12345),
        ("bool", "bool_val", True),
        ("bool", "bool_val", False),
    ],
)
def test_feature_values_decode_as_feast_wrote_them(feast_encoding, kind, field, value):
    _, _, Value = feast_encoding
    assert kind in FEATURE_TYPES
    decoded = decode_value(Value(**{field: value}).SerializeToString())
    assert decoded == float(value) and math.copysign(1, decoded) == math.copysign(1, float(value))


def test_a_missing_value_decodes_as_none(feast_encoding):
    _, _, Value = feast_encoding
    assert decode_value(Value().SerializeToString()) is None
    assert decode_value(Value(null_val=0).SerializeToString()) is None
    assert decode_value(None) is None


def test_a_value_no_feature_type_writes_is_refused(feast_encoding):
    _, _, Value = feast_encoding
    with pytest.raises(EncodingError, match="not a scalar"):
        decode_value(Value(string_val="abc").SerializeToString())
    with pytest.raises(EncodingError, match="varint"):
        decode_value(b"\x20\xff")  # int64 field, truncated varint
