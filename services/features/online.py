"""The model server's reader of Feast's online store: one query per request, straight to the tables.

Feast's own feature server (`feast serve`) answers get-online-features through FastAPI, its registry,
its type conversions and a protobuf response; for a model server that only needs a few floats per
entity, that is most of the cost of a prediction (benchmarks/README.md). So the model server reads
the online store's tables itself (ADR 0018): Feast writes them, the layout is Feast's, and the two
encodings it needs are in encoding.py, pinned by tests against Feast.

A table per feature view, `<project>_<view>`, one row per (entity_key, feature_name) with the
serialised value and its event timestamp. `read()` fetches every view a model needs for a set of
entity keys in ONE statement (`UNION ALL`), prepared once per connection:

    SELECT 0, entity_key, feature_name, value, event_ts FROM "recsys_flower_measurements"
     WHERE entity_key = ANY(%s)

Two stores, as the feature store runs them (repo.py): PostgreSQL in the cluster (psycopg 3, one
connection per server process, autocommit, a statement timeout) and SQLite in standalone (read-only).

When the store does not answer, `read()` raises `OnlineStoreUnavailable` at once, with a message a
client can act on; the connection is dropped and a new one is tried on a request after `retry_after`
seconds, so a store that comes back is used again without a restart, and a store that stays down
costs one connection attempt per interval, not one per request.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from services.features.encoding import decode_value

__all__ = ["OnlineStore", "OnlineStoreUnavailable", "Found", "open_store", "PostgresStore", "SqliteStore"]

# (view index, entity key bytes) -> (event time as epoch seconds, {feature: value or None})
Found = dict[tuple[int, bytes], tuple[float, dict[str, float | None]]]


class OnlineStoreUnavailable(RuntimeError):
    """The online store did not answer; the message names it (never its password) and what happens next."""


class OnlineStore(Protocol):
    where: str  # host:port/database or the file, for messages

    def read(self, tables: Sequence[str], keys: Sequence[bytes]) -> Found: ...

    def close(self) -> None: ...


def open_store(url: str, *, retry_after: float = 1.0) -> OnlineStore:
    """`postgresql://user:password@host:port/database` or `sqlite:///path/online.db`."""
    scheme = url.split(":", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url, retry_after=retry_after)
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))  # sqlite:////abs/path or sqlite:///relative
    raise ValueError(
        f"online store URL scheme {scheme!r}: use postgresql://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:///PATH"
    )


def _union(tables: Sequence[str], placeholder: str) -> str:
    return " UNION ALL ".join(
        f'SELECT {index}, entity_key, feature_name, value, event_ts FROM "{table}" WHERE entity_key {placeholder}'
        for index, table in enumerate(tables)
    )


def _collect(rows, found: Found | None = None) -> Found:
    found = {} if found is None else found
    for view, key, feature, value, event_ts in rows:
        entry = found.get((view, bytes(key)))
        if entry is None:
            entry = found[(view, bytes(key))] = (_epoch(event_ts), {})
        entry[1][feature] = decode_value(value)
    return found


def _epoch(value) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value)  # Feast's SQLite store writes epoch seconds
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f"unexpected event timestamp {value!r} in the online store")


class PostgresStore:
    def __init__(self, url: str, *, retry_after: float = 1.0, connect_timeout: int = 2, statement_ms: int = 2000):
        parts = urllib.parse.urlparse(url)
        self.url, self.retry_after = url, retry_after
        self.where = f"PostgreSQL {parts.hostname}:{parts.port or 5432}/{parts.path.lstrip('/')}"
        self._options = {"connect_timeout": connect_timeout, "options": f"-c statement_timeout={statement_ms}"}
        self._connection = None
        self._retry_at = 0.0
        self._reason = ""
        self._queries: dict[tuple[str, ...], str] = {}

    def read(self, tables: Sequence[str], keys: Sequence[bytes]) -> Found:
        import psycopg

        connection = self._connect()
        query = self._queries.get(tuple(tables))
        if query is None:
            query = self._queries[tuple(tables)] = _union(tables, "= ANY(%s)")
        try:
            rows = connection.execute(query, [list(keys)] * len(tables), prepare=True).fetchall()
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._down(exc)
            raise self._unavailable() from None
        except psycopg.errors.UndefinedTable as exc:
            raise OnlineStoreUnavailable(
                f"the online store ({self.where}) has no table for a feature view ({exc.diag.message_primary}): "
                "apply the feature repository (`mlplat features apply`) and materialize"
            ) from None
        return _collect(rows)

    def _connect(self):
        import psycopg

        if self._connection is not None and not self._connection.closed:
            return self._connection
        if time.monotonic() < self._retry_at:
            raise self._unavailable()
        try:
            self._connection = psycopg.connect(self.url, autocommit=True, **self._options)
        except psycopg.Error as exc:
            self._down(exc)
            raise self._unavailable() from None
        return self._connection

    def _down(self, exc: Exception) -> None:
        self.close()
        self._reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self._retry_at = time.monotonic() + self.retry_after

    def _unavailable(self) -> OnlineStoreUnavailable:
        return OnlineStoreUnavailable(
            f"the online feature store ({self.where}) is unreachable: {self._reason}; the server retries by itself "
            f"every {self.retry_after:g}s and answers again as soon as the store does"
        )

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail; it is gone either way
                self._connection.close()
        self._connection = None


class SqliteStore:
    def __init__(self, path: str, *, timeout: float = 2.0):
        self.path, self.timeout = path, timeout
        self.where = f"SQLite {path}"
        self._connection: sqlite3.Connection | None = None
        self._queries: dict[tuple[tuple[str, ...], int], str] = {}

    def read(self, tables: Sequence[str], keys: Sequence[bytes]) -> Found:
        key = (tuple(tables), len(keys))
        query = self._queries.get(key)
        if query is None:
            query = self._queries[key] = _union(tables, f"IN ({', '.join('?' * len(keys))})")
        try:
            if self._connection is None:
                # read-only, and waiting up to `timeout` for the materialization's write lock
                self._connection = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=self.timeout, check_same_thread=False
                )
            rows = self._connection.execute(query, list(keys) * len(tables)).fetchall()
        except sqlite3.Error as exc:
            self.close()
            raise OnlineStoreUnavailable(
                f"the online feature store ({self.where}) cannot be read: {exc}; apply the feature repository "
                "(`mlplat features apply`) and materialize; the server retries on the next request"
            ) from None
        return _collect(rows)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None
