"""The append-only, hash-chained audit log of promotion decisions (JSON lines).

Each line holds the decision and `prev`, the hash of the line before; its own `hash` is the SHA-256
of `prev` plus the canonical JSON of the entry. Changing, removing or reordering any line breaks
every hash after it, which `verify()` reports with the line number. Appends take an exclusive lock,
so concurrent promotions (several processes) still form one chain.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "AuditError", "GENESIS"]

GENESIS = "0" * 64


class AuditError(ValueError):
    pass


def _digest(prev: str, entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


class AuditLog:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the log's exclusive lock (also used to serialise "decide, record, move alias")."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(self.path.suffix + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, entry: dict[str, Any]) -> str:
        """Append an entry (call inside `locked()` when it must be atomic with other steps); returns its hash."""
        prev = self._last_hash()
        record = {**entry, "prev": prev}
        record["hash"] = _digest(prev, {k: v for k, v in record.items() if k not in ("hash", "prev")})
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            handle.flush()
        return record["hash"]

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def verify(self) -> int:
        """Check the whole chain; returns the number of entries or raises naming the first bad line."""
        prev = GENESIS
        lines = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise AuditError(f"{self.path}:{number}: not valid JSON: the log was edited") from None
            if record.get("prev") != prev:
                raise AuditError(
                    f"{self.path}:{number}: `prev` does not match line {number - 1}: a line was "
                    "removed, inserted or reordered"
                )
            expected = _digest(prev, {k: v for k, v in record.items() if k not in ("hash", "prev")})
            if record.get("hash") != expected:
                raise AuditError(f"{self.path}:{number}: hash mismatch: this line was modified after it was written")
            prev = record["hash"]
        return len(lines)

    def _last_hash(self) -> str:
        if not self.path.exists():
            return GENESIS
        last = None
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    last = line
        return json.loads(last)["hash"] if last else GENESIS
