"""The registry's state as plain data, and a field-by-field comparison of two such states.

`capture()` is the shell: it reads every registered model and version through the MLflow client
and the promotion audit log from its file. `compare()` is pure: two snapshots in, a count of
every field compared and one line per difference out. The DR drill compares the state taken at
the backup with the state after the restore (they must be equal in every field) and the state
just before the disaster with the restored one (the differences are the changes the restore lost).

Categories, each a flat mapping from a key to a value or a dict of fields:
  models    "name"                 -> description, creation and last-update timestamps
  versions  "name/3"               -> description, run id, source, status, user, timestamps
  tags      "name#key", "name/3#key" -> the tag's value (registered-model and version tags)
  aliases   "name@champion"        -> the version it points at
  audit     audit-entry hash       -> the promotion audit-log entry a version's decision tag
                                      (`platform.mlops/decision-audit`) links to: time, actor,
                                      model, version, alias, decision, rules version, and whether
                                      the registry's decision tag agrees with it
The audit log lives outside the database (a file on its own volume): a restore cannot change
it, so what is checked is that the restored registry links to the same entries as before, and
that those entries agree with the decision recorded on each version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.promotion_gate.registry import TAG

__all__ = ["Snapshot", "Difference", "CategoryResult", "Comparison", "capture", "compare", "CATEGORIES"]

CATEGORIES = ("models", "versions", "tags", "aliases", "audit")
DECISION_AUDIT = f"{TAG}decision-audit"
DECISION = f"{TAG}decision"


@dataclass(frozen=True)
class Snapshot:
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {category: len(getattr(self, category)) for category in CATEGORIES}


@dataclass(frozen=True)
class Difference:
    category: str
    key: str
    field: str | None  # None: the whole item is missing or unexpected
    expected: Any
    actual: Any
    model: str  # the registered model it belongs to, to tell which change lost it

    def __str__(self) -> str:
        if self.field is None:
            state = "missing" if self.actual is None else "unexpected"
            return f"{self.category}[{self.key}]: {state}"
        return f"{self.category}[{self.key}].{self.field}: expected {self.expected!r}, got {self.actual!r}"


@dataclass(frozen=True)
class CategoryResult:
    category: str
    items: int  # items in the expected snapshot
    matched: int  # of those, present with every field equal
    fields: int  # fields compared (a missing item counts all of its fields)
    equal: int  # fields equal
    differences: tuple[Difference, ...]


@dataclass(frozen=True)
class Comparison:
    results: tuple[CategoryResult, ...]

    @property
    def differences(self) -> list[Difference]:
        return [d for result in self.results for d in result.differences]

    @property
    def fields(self) -> int:
        return sum(r.fields for r in self.results)

    @property
    def equal(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        parts = [f"{r.category} {r.matched}/{r.items} ({r.equal}/{r.fields} fields)" for r in self.results]
        return ", ".join(parts) + f": {len(self.differences)} differences"

    def as_dict(self) -> dict[str, Any]:
        return {
            r.category: {"items": r.items, "matched": r.matched, "fields": r.fields, "equal": r.equal}
            for r in self.results
        } | {"differences": [str(d) for d in self.differences]}


def _model_of(category: str, key: str, value: Any) -> str:
    if category == "audit":
        return str((value or {}).get("model", ""))
    for separator in ("/", "#", "@"):
        key = key.split(separator, 1)[0]
    return key


def compare(expected: Snapshot, actual: Snapshot) -> Comparison:
    """Every field of every item in `expected` against `actual`, plus items only `actual` has."""
    results = []
    for category in CATEGORIES:
        want, have = getattr(expected, category), getattr(actual, category)
        items = matched = fields = equal = 0
        differences: list[Difference] = []
        for key in sorted(want):
            items += 1
            value = want[key]
            width = len(value) if isinstance(value, dict) else 1
            if key not in have:
                fields += width
                differences.append(Difference(category, key, None, value, None, _model_of(category, key, value)))
                continue
            other = have[key]
            pairs = (
                [(name, value.get(name), other.get(name)) for name in sorted(set(value) | set(other))]
                if isinstance(value, dict)
                else [("value", value, other)]
            )
            item_equal = True
            for name, left, right in pairs:
                fields += 1
                if left == right:
                    equal += 1
                else:
                    item_equal = False
                    differences.append(Difference(category, key, name, left, right, _model_of(category, key, value)))
            matched += item_equal
        for key in sorted(set(have) - set(want)):
            differences.append(Difference(category, key, None, None, have[key], _model_of(category, key, have[key])))
        results.append(CategoryResult(category, items, matched, fields, equal, tuple(differences)))
    return Comparison(tuple(results))


def capture(client, audit_entries: list[dict[str, Any]] | None = None) -> Snapshot:
    """Read the whole registry through `client` (an MlflowClient); join decision tags to `audit_entries`."""
    by_hash = {entry["hash"]: entry for entry in audit_entries or []}
    snapshot = Snapshot()
    for model in _all_models(client):
        name = model.name
        snapshot.models[name] = {
            "description": model.description or "",
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
        }
        for key, value in (model.tags or {}).items():
            snapshot.tags[f"{name}#{key}"] = value
        for alias, version in (model.aliases or {}).items():
            snapshot.aliases[f"{name}@{alias}"] = str(version)
        for version in _all_versions(client, name):
            full = client.get_model_version(name, version.version)  # search results may omit tags
            key = f"{name}/{full.version}"
            snapshot.versions[key] = {
                "description": full.description or "",
                "run_id": full.run_id,
                "source": full.source,
                "status": full.status,
                "user_id": full.user_id,
                "creation_timestamp": full.creation_timestamp,
                "last_updated_timestamp": full.last_updated_timestamp,
            }
            tags = dict(full.tags or {})
            for tag, value in tags.items():
                snapshot.tags[f"{key}#{tag}"] = value
            if DECISION_AUDIT in tags:
                snapshot.audit[tags[DECISION_AUDIT]] = _audit_fields(by_hash.get(tags[DECISION_AUDIT]), tags)
    return snapshot


def _audit_fields(entry: dict[str, Any] | None, tags: dict[str, str]) -> dict[str, Any]:
    if entry is None:
        return {"in_audit_log": False}
    return {
        "in_audit_log": True,
        "time": entry["time"],
        "actor": entry["actor"],
        "model": entry["model"],
        "version": entry["version"],
        "alias": entry["alias"],
        "decision": entry["decision"],
        "rules_version": entry["rules_version"],
        "rules_evaluated": len(entry.get("results", [])),
        "agrees_with_version_tag": tags.get(DECISION) == entry["decision"],
    }


def _all_models(client) -> list:
    models, token = [], None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        models += list(page)
        token = page.token
        if not token:
            return sorted(models, key=lambda m: m.name)


def _all_versions(client, name: str) -> list:
    versions, token = [], None
    escaped = name.replace("'", "\\'")
    while True:
        page = client.search_model_versions(f"name = '{escaped}'", max_results=100, page_token=token)
        versions += list(page)
        token = page.token
        if not token:
            return sorted(versions, key=lambda v: int(v.version))
