"""One entity's rows in a tenant's feature store, offline and online: found, counted and deleted.

The GDPR erasure (services/compliance/erasure.py) uses it to remove a person. Where the rows live is
what Feast itself reads, from the tenant's generated repository (repo.py): each feature view's Parquet
source (the offline store) and the online store of `feature_store.yaml` (PostgreSQL in the cluster,
SQLite in standalone), whose tables `<project>_<view>` hold one row per entity key and feature, keyed
by Feast's entity-key encoding (encoding.py).

Deleting is done the way each store allows it to be done safely:
- a Parquet file is rewritten without the entity's rows into a temporary file beside it and moved over
  the original (one atomic rename: a reader sees the old file or the new one, never half of one);
- online rows go in one transaction per store.
Offline rows go first, so a materialization running meanwhile cannot copy them back online. An entity
of a view keyed by several entities is found by its own key in every combination the offline rows
show; deleted offline first, those combinations are unknown to a second run.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.features.encoding import entity_key
from services.features.names import online_table

__all__ = ["ViewRows", "SubjectRows", "FeatureData", "open_feature_data"]


@dataclass(frozen=True)
class ViewRows:
    view: str
    source: Path  # the view's Parquet file
    offline: int  # rows of the entity in it
    online_keys: tuple[bytes, ...]  # the entity keys of its online rows (one row per feature each)
    online: int  # online rows (key x feature)


@dataclass(frozen=True)
class SubjectRows:
    views: tuple[ViewRows, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not any(v.offline or v.online for v in self.views)


class FeatureData:
    """The offline sources and online tables of one tenant's Feast project."""

    def __init__(self, repo: Path, tenant: str, views: dict[str, tuple[Path, list[str]]], online: dict[str, Any]):
        self.repo, self.tenant = repo, tenant
        self.views = views  # view -> (Parquet source, join keys of its entities)
        self.online = online  # feature_store.yaml's online_store, environment expanded

    def find(self, join_key: str, value: int | str, types: dict[str, str]) -> SubjectRows:
        """Every row of the entity `join_key = value` in the views that have that join key."""
        import pandas as pd

        found = []
        for view, (source, keys) in sorted(self.views.items()):
            if join_key not in keys:
                continue
            frame = pd.read_parquet(source, columns=keys) if source.exists() else pd.DataFrame(columns=keys)
            mine = frame[frame[join_key] == value]
            combos = {tuple(_plain(row[k]) for k in keys) for _, row in mine.iterrows()}
            if len(keys) == 1:
                combos.add((value,))
            encoded = tuple(sorted(entity_key(keys, [types[k] for k in keys], list(c)) for c in combos))
            online = self._count_online(online_table(self.tenant, view), encoded)
            present = tuple(k for k in encoded if online.get(k))
            found.append(ViewRows(view, source, len(mine), present, sum(online.values())))
        return SubjectRows(tuple(found))

    def delete(self, join_key: str, value: int | str, rows: SubjectRows) -> None:
        """Offline first (atomic per file), then online (one transaction)."""
        import pandas as pd

        for view in rows.views:
            if view.offline:
                frame = pd.read_parquet(view.source)
                kept = frame[frame[join_key] != value]
                partial = view.source.with_name(f".{view.source.name}.erasing")
                kept.to_parquet(partial, index=False)
                with open(partial, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(partial, view.source)
        with self._connect() as (connection, placeholder):
            for view in rows.views:
                if view.online_keys:
                    marks = ", ".join([placeholder] * len(view.online_keys))
                    table = online_table(self.tenant, view.view)
                    connection.execute(f'DELETE FROM "{table}" WHERE entity_key IN ({marks})', list(view.online_keys))

    def _count_online(self, table: str, keys: tuple[bytes, ...]) -> dict[bytes, int]:
        if not keys:
            return {}
        with self._connect() as (connection, placeholder):
            marks = ", ".join([placeholder] * len(keys))
            try:
                rows = connection.execute(
                    f'SELECT entity_key, count(*) FROM "{table}" WHERE entity_key IN ({marks}) GROUP BY entity_key',
                    list(keys),
                ).fetchall()
            except Exception as exc:  # no table yet: nothing was ever materialized for this view
                if "does not exist" in str(exc) or "no such table" in str(exc):
                    return {}
                raise
        return {bytes(key): count for key, count in rows}

    @contextlib.contextmanager
    def _connect(self):
        """(connection, placeholder) in one transaction: committed on success, rolled back on error."""
        if self.online.get("type") == "sqlite":
            path = Path(self.online["path"])
            connection = sqlite3.connect(path if path.is_absolute() else self.repo / path)
            try:
                with connection:
                    yield connection, "?"
            finally:
                connection.close()
            return
        if self.online.get("type") != "postgres":
            raise ValueError(f"online store type {self.online.get('type')!r}: only postgres and sqlite are erasable")
        import psycopg

        options = {k: self.online[k] for k in ("host", "port", "user", "password") if self.online.get(k) is not None}
        with psycopg.connect(dbname=self.online["database"], **options) as connection:  # one transaction
            yield connection, "%s"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def open_feature_data(repo: Path, tenant: str) -> FeatureData:
    """The tenant's sources and online store, as Feast reads them from its repository."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    views = {}
    for view in store.list_feature_views():
        keys = [column.name for column in view.entity_columns]
        views[view.name] = (Path(view.batch_source.path), keys)
    online = store.config.online_store.model_dump() if hasattr(store.config.online_store, "model_dump") else {}
    return FeatureData(Path(repo).resolve(), tenant, views, online)
