"""Feast's online-store encodings, read without importing Feast: entity keys and feature values.

The model server reads the online store's tables directly (online.py, ADR 0018), so it needs the two
encodings Feast writes there, and nothing else of Feast (whose import costs seconds and 100+ MB):

- the entity key (`entity_key` column): Feast's `serialize_entity_key`, version 3 (the version the
  generated `feature_store.yaml` pins): the number of join keys, then each key's type and name, then
  each value's type, length and bytes, keys sorted by name;
- the value (`value` column): a serialised `feast.types.Value` protobuf message. The platform's
  feature types are scalars (blueprints/schema/features.py FEATURE_TYPES), each one field of the message: a
  tag byte and a varint, a 4-byte float or an 8-byte double. An empty message, or `null_val`, is a
  missing value.

Both are pinned by tests against Feast's own encoders (tests/services/test_feature_encoding.py),
so a Feast release that changed either would fail there, not in production.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = ["entity_key", "decode_value", "EncodingError", "VALUE_TYPES"]

# feast.types.ValueType numbers of the entity key types the blueprint allows
VALUE_TYPES = {"string": 2, "int64": 4}
_STRING = 2

# feast.types.Value field numbers -> how the scalar is read
_DOUBLE, _FLOAT, _INT32, _INT64, _BOOL, _NULL = 5, 6, 3, 4, 7, 19
_UNPACK_DOUBLE = struct.Struct("<d").unpack_from
_UNPACK_FLOAT = struct.Struct("<f").unpack_from
_HEADER = struct.Struct("<I")


class EncodingError(ValueError):
    """A stored value the platform's feature types do not produce (a list, a string, corrupt bytes)."""


def entity_key(join_keys: Sequence[str], types: Sequence[str], values: Sequence[int | str]) -> bytes:
    """The bytes Feast stores as `entity_key` for one entity (version 3 serialisation)."""
    pairs = sorted(zip(join_keys, types, values, strict=True))  # Feast sorts by join key
    out = [_HEADER.pack(len(pairs))]
    for name, _, _ in pairs:
        encoded = name.encode("utf8")
        out += [_HEADER.pack(_STRING), _HEADER.pack(len(encoded)), encoded]
    for _, kind, value in pairs:
        if kind == "int64":
            data = struct.pack("<q", value)
        elif kind == "string":
            data = str(value).encode("utf8")
        else:
            raise EncodingError(f"entity key type {kind!r} is not one of {sorted(VALUE_TYPES)}")
        out += [_HEADER.pack(VALUE_TYPES[kind]), _HEADER.pack(len(data)), data]
    return b"".join(out)


def decode_value(data: bytes | memoryview | None) -> float | None:
    """A stored feature value as a float (None: missing). Scalars only; anything else raises."""
    if not data:
        return None
    tag, start = data[0], 1
    if tag & 0x80:  # a field number over 15 takes a two-byte tag (null_val is field 19)
        tag, start = _varint(data, 0, end=False)
    field, wire = tag >> 3, tag & 7
    if field == _DOUBLE and wire == 1 and len(data) == 9:
        return _UNPACK_DOUBLE(data, 1)[0]
    if field == _FLOAT and wire == 5 and len(data) == 5:
        return float(_UNPACK_FLOAT(data, 1)[0])
    if field in (_INT64, _INT32, _BOOL, _NULL) and wire == 0:
        number, _ = _varint(data, start)
        if field == _NULL:
            return None
        if field == _BOOL:
            return float(number != 0)
        if number >= 1 << 63:  # two's complement: protobuf writes negative ints as 64-bit
            number -= 1 << 64
        return float(number)
    raise EncodingError(
        f"stored feature value with field {field} (wire type {wire}) is not a scalar the platform's feature "
        "types write (float64, float32, int64, int32, bool)"
    )


def _varint(data: bytes | memoryview, start: int, *, end: bool = True) -> tuple[int, int]:
    """(the varint at `start`, the position after it); with `end`, it must be the last thing in `data`."""
    number, shift = 0, 0
    for position in range(start, min(len(data), start + 10)):
        byte = data[position]
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if end and position + 1 != len(data):
                break
            return number, position + 1
        shift += 7
    raise EncodingError("stored feature value is not one complete varint")
