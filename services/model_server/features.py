"""Predictions from entity keys: for a model that reads a feature service, fetch its inputs, then predict.

A request to such a model may carry entity keys instead of feature values, in every body the server
accepts, as long as the names are exactly the entity's join keys:

    {"inputs": [{"name": "flower_id", "shape": [1], "datatype": "INT64", "data": [42]}]}     (V2)
    {"dataframe_records": [{"flower_id": 42}]}, {"dataframe_split": {"columns": ["flower_id"], ...}},
    {"instances": [{"flower_id": 42}]}, {"inputs": {"flower_id": [42, 43]}}                 (/invocations)

`FeatureBinding.rows()` recognises such a request (anything else is decoded as feature values, as for
every model), `batch()` reads every feature view of the service for all the keys in one query
(services/features/online.py) and builds the float64 batch in the model's signature order. What
the blueprint chose applies per entity and view (blueprints/schema/model.py `ModelFeatures`):
- no row for the entity -> 404 naming it (`missingEntity: reject`), or the declared defaults;
- a row older than the view's TTL -> treated as missing, or served when `allowStale`, then counted
  and named in the `x-feature-stale` response header;
- the online store not answering -> 503 saying so; the reader reconnects by itself.
A model without a feature service never reaches this module: the request path checks one attribute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from services.features.encoding import entity_key
from services.features.names import FEATURE_SERVICE_TAG
from services.features.online import OnlineStore, OnlineStoreUnavailable
from services.features.spec import FeatureSpec
from services.model_server import metrics
from services.model_server.codec import ClientError, Signature

__all__ = ["FeatureBinding", "STALE_HEADER", "DEFAULTS_HEADER"]

STALE_HEADER = b"x-feature-stale"  # the views served older than their TTL
DEFAULTS_HEADER = b"x-feature-defaults"  # how many rows were predicted on the declared defaults
_INT_TYPES = {"INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8"}


class FeatureBinding:
    def __init__(self, spec: FeatureSpec, store: OnlineStore, clock: Callable[[], float] = time.time):
        self.spec, self.store, self.clock = spec, store, clock
        self.keys = frozenset(spec.join_keys)
        self._tables = tuple(view.table for view in spec.views)
        self._orders: dict[tuple[str, ...], np.ndarray] = {}

    # --- the model version must have been trained on this service -------------------------------
    def refusal(self, tags: dict[str, str], signature: Signature | None) -> str | None:
        """Why a model version cannot be served from this feature service (None: it can)."""
        trained_on = tags.get(FEATURE_SERVICE_TAG)
        if trained_on != self.spec.service:
            return (
                f"it was trained on {'feature service ' + repr(trained_on) if trained_on else 'no feature service'}"
                f" (tag {FEATURE_SERVICE_TAG}), and the blueprint serves it from {self.spec.service!r}"
            )
        if signature is not None and set(signature.columns) != set(self.spec.features):
            return f"its inputs {list(signature.columns)} are not the service's features {list(self.spec.features)}"
        return None

    # --- the request ------------------------------------------------------------------------------
    def rows(self, document: Any, v2: bool) -> list[tuple] | None:
        """The entity keys of the request, one tuple per row in join-key order; None when the request
        carries something else (then it is decoded as feature values)."""
        if not isinstance(document, dict):
            return None
        if v2:
            tensors = document.get("inputs")
            named = isinstance(tensors, list) and tensors and all(isinstance(t, dict) for t in tensors)
            if named and {t.get("name") for t in tensors} == self.keys and len(tensors) == len(self.keys):
                return self._v2(tensors)
            return None
        for field in ("dataframe_split", "dataframe_records", "instances", "inputs"):
            if field not in document:
                continue
            value = document[field]
            if field == "dataframe_split" and isinstance(value, dict) and isinstance(value.get("columns"), list):
                if set(value["columns"]) == self.keys and len(value["columns"]) == len(self.keys):
                    data = value.get("data")
                    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
                        raise ClientError(400, f"{field}.data must be a list of rows", f"{field}.data")
                    return self._records([dict(zip(value["columns"], r, strict=False)) for r in data], field)
            elif isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                if set(value[0]) == self.keys:
                    return self._records(value, field)
            elif isinstance(value, dict) and set(value) == self.keys:
                columns = [value[k] for k in self.spec.join_keys]
                if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1:
                    raise ClientError(400, f"{field}: every key must be a list of the same length", field)
                return self._checked([tuple(r) for r in zip(*columns, strict=True)], field)
        return None

    def _v2(self, tensors: list[dict]) -> list[tuple]:
        by_name = {t["name"]: t for t in tensors}
        columns = []
        for key, kind in zip(self.spec.join_keys, self.spec.key_types, strict=True):
            tensor, where = by_name[key], f"inputs[{key}]"
            data, datatype = tensor.get("data"), tensor.get("datatype")
            if isinstance(data, np.ndarray):  # sent as raw bytes (binary extension, gRPC)
                data = data.reshape(-1).tolist()
            if not isinstance(data, list) or not data:
                raise ClientError(400, f"{where}.data must be a non-empty list of entity keys", f"{where}.data")
            wanted = "BYTES" if kind == "string" else "INT64"
            if (kind == "string" and datatype != "BYTES") or (kind == "int64" and datatype not in _INT_TYPES):
                raise ClientError(
                    422, f"{where}: {key} is a {kind} entity key; send datatype {wanted}", f"{where}.datatype"
                )
            columns.append(data)
        if len({len(c) for c in columns}) != 1:
            raise ClientError(422, "inputs: every entity key tensor must have the same length", "inputs")
        return self._checked([tuple(r) for r in zip(*columns, strict=True)], "inputs")

    def _records(self, records: list, field: str) -> list[tuple]:
        for index, record in enumerate(records):
            if not isinstance(record, dict) or set(record) != self.keys:
                raise ClientError(
                    422, f"{field}[{index}]: give exactly the join keys {sorted(self.keys)}", f"{field}[{index}]"
                )
        return self._checked([tuple(r[k] for k in self.spec.join_keys) for r in records], field)

    def _checked(self, rows: list[tuple], field: str) -> list[tuple]:
        """Each key of the type its entity declares (a whole number for int64, text for string)."""
        out = []
        for index, row in enumerate(rows):
            values = []
            for key, kind, value in zip(self.spec.join_keys, self.spec.key_types, row, strict=True):
                where = f"{field}[{index}].{key}"
                if kind == "int64":
                    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
                    if isinstance(value, bool) or not whole:
                        raise ClientError(422, f"{where}: {value!r} is not an int64 entity key", where)
                    value = int(value)
                    if not -(2**63) <= value < 2**63:
                        raise ClientError(422, f"{where}: {value} is out of the int64 range", where)
                elif not isinstance(value, str):
                    raise ClientError(422, f"{where}: {value!r} is not a string entity key", where)
                values.append(value)
            out.append(tuple(values))
        return out

    # --- the features -----------------------------------------------------------------------------
    def batch(self, rows: list[tuple], signature: Signature | None) -> tuple[np.ndarray, list[tuple[bytes, bytes]]]:
        """The model's input batch for the entity rows, and the response headers that flag what it used."""
        spec, model = self.spec, self.spec.model
        keys = [entity_key(spec.join_keys, spec.key_types, row) for row in rows]
        started = time.perf_counter()
        try:
            found = self.store.read(self._tables, list(dict.fromkeys(keys)))
        except OnlineStoreUnavailable as exc:
            raise ClientError(503, str(exc)) from None
        finally:
            metrics.feature_fetch_timer(model).observe(time.perf_counter() - started)
        now = self.clock()
        batch = np.empty((len(rows), len(spec.features)), dtype=np.float64)
        stale_served: set[str] = set()
        defaulted = 0
        for index, key in enumerate(keys):
            column, problems = 0, []
            for view_index, view in enumerate(spec.views):
                hit = found.get((view_index, key))
                if hit is None:
                    result, values = "missing", {}
                    problems.append(f"no row in feature view {view.name!r}")
                elif now - hit[0] > view.ttl_seconds and not spec.allow_stale:
                    result, values = "missing", {}
                    problems.append(
                        f"{view.name!r} holds values {_age(now - hit[0])} old, over its TTL of {_age(view.ttl_seconds)}"
                        " (the model does not serve stale features: features.allowStale)"
                    )
                else:
                    result, values = ("stale" if now - hit[0] > view.ttl_seconds else "found"), hit[1]
                    if result == "stale":
                        stale_served.add(view.name)
                metrics.feature_lookups(model, view.name, result).inc()
                for feature in view.features:
                    value = values.get(feature)
                    if value is None:
                        if result != "missing":
                            problems.append(f"feature {feature!r} has no value")
                        value = spec.defaults[column] if spec.missing_entity == "default" else np.nan
                    batch[index, column] = value
                    column += 1
            if problems:
                if spec.missing_entity == "reject":
                    entity = ", ".join(f"{k}={v!r}" for k, v in zip(spec.join_keys, rows[index], strict=True))
                    raise ClientError(
                        404,
                        f"no online features for {entity} (feature service {spec.service!r}): {'; '.join(problems)}. "
                        "Materialize its data, or declare features.missingEntity: default with defaults",
                        spec.join_keys[0],
                    )
                defaulted += 1
        headers = []
        if stale_served:
            headers.append((STALE_HEADER, ",".join(sorted(stale_served)).encode()))
        if defaulted:
            headers.append((DEFAULTS_HEADER, str(defaulted).encode()))
        return self._in_signature_order(batch, signature), headers

    def _in_signature_order(self, batch: np.ndarray, signature: Signature | None) -> np.ndarray:
        if signature is None or signature.columns == self.spec.features:
            return batch
        order = self._orders.get(signature.columns)
        if order is None:
            position = {name: i for i, name in enumerate(self.spec.features)}
            order = self._orders[signature.columns] = np.array([position[c] for c in signature.columns])
        return batch[:, order]


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
