"""The compliance report's input: what the platform knows, gathered into one JSON document for OPA.

The controls (policies/compliance/*.rego) never reach out to anything: they read this document, so
the same Rego runs on a laptop against a blueprint's rendered manifests and in the cluster against the
live objects, and an `opa test` case is just a smaller document. Its sections (docs/compliance.md):

- `blueprint`: the blueprint as its YAML spells it (camelCase), with every default written out;
- `manifests`: the Kubernetes objects: rendered by the Pulumi program under mocks (`source: rendered`),
  read from YAML files, or listed from the live API server (`source: live`);
- `registry`: every registered model version with its tags (the training lineage and the gate's
  decisions) and the aliases pointing at it;
- `audit`: the promotion gate's audit log: its entries and whether the hash chain is intact;
- `promotion`: the promotion rules the gate applies;
- `backups`: per registry, what its backups cover and how far back they reach.

A section the caller could not read says so (`read: false` and a note), and the controls report what
that leaves unverified instead of guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from blueprints.cron import parse_cron
from blueprints.schema import Blueprint

__all__ = [
    "document",
    "blueprint_section",
    "backups_section",
    "promotion_section",
    "audit_section",
    "registry_section",
    "not_read",
]


def blueprint_section(blueprint: Blueprint) -> dict[str, Any]:
    """The blueprint as YAML spells it, defaults included; absent optional sections are left out
    (Rego reads a missing key as undefined, the way the blueprint means it)."""
    return blueprint.model_dump(by_alias=True, mode="json", exclude_none=True)


def not_read(note: str) -> dict[str, Any]:
    return {"read": False, "note": note}


def backups_section(blueprint: Blueprint) -> list[dict[str, Any]]:
    """What each registry's backups hold and for how long: `retention` dumps at the dump schedule's
    longest interval, and with WAL archiving every database of the server (the feature stores' too)."""
    from services.registry.access import registry_instances

    backup = blueprint.platform.registry.backup
    interval_hours = parse_cron(backup.effective_schedule).max_interval_seconds / 3600
    covers = ["the registry database (pg_dump of mlflow)"]
    if backup.wal_archiving:
        covers.append("every database of the server, feature stores included (WAL archive)")
    return [
        {
            "registry": instance,
            "schedule": backup.effective_schedule,
            "retention": backup.retention,
            "walArchiving": backup.wal_archiving,
            "covers": covers,
            "windowHours": round(backup.retention * interval_hours),
        }
        for instance in registry_instances(blueprint)
    ]


def promotion_section(rules) -> dict[str, Any]:
    """The promotion rule set (services/promotion_gate/rules.py RuleSet) the gate applies."""
    return {
        "version": rules.version,
        "source": rules.source,
        "rules": [{"id": r.id, "kind": r.kind, "aliases": list(r.aliases), **r.params} for r in rules.rules],
    }


def audit_section(path: Path) -> dict[str, Any]:
    """The audit log's entries and whether its hash chain holds (services/promotion_gate/audit.py)."""
    from services.promotion_gate.audit import AuditError, AuditLog

    if not Path(path).exists():
        return not_read(f"no audit log at {path}")
    log = AuditLog(path)
    try:
        log.verify()
        intact, error = True, None
    except AuditError as exc:
        intact, error = False, str(exc)
    return {"read": True, "path": str(path), "intact": intact, "error": error, "entries": log.entries()}


def registry_section(client, blueprint: Blueprint, uri: str) -> dict[str, Any]:
    """Every version of every registered model, with its tags and the aliases that point at it.

    A version's tenant is the blueprint's owner of the model (names are unique per registry), else its
    `owner` tag."""
    owners = {model.name: tenant.name for tenant in blueprint.tenants for model in tenant.models}
    versions = []
    for model in client.search_registered_models():
        aliases_of: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases_of.setdefault(str(version), []).append(alias)
        for found in client.search_model_versions(f"name = '{model.name}'"):
            version = client.get_model_version(model.name, found.version)  # with every tag
            tags = dict(version.tags or {})
            versions.append(
                {
                    "model": model.name,
                    "version": str(version.version),
                    "tenant": owners.get(model.name, tags.get("owner", "")),
                    "runId": version.run_id or "",
                    "tags": tags,
                    "aliases": sorted(aliases_of.get(str(version.version), [])),
                }
            )
    versions.sort(key=lambda v: (v["model"], int(v["version"])))
    return {"read": True, "uri": uri, "versions": versions}


def document(
    blueprint: Blueprint,
    manifests: Iterable[dict[str, Any]],
    *,
    framework: str,
    source: str,
    registry: dict[str, Any],
    audit: dict[str, Any],
    promotion: dict[str, Any],
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The whole input document for `data.compliance.report.result`."""
    now = now or dt.datetime.now(dt.UTC)
    return {
        "framework": framework,
        "now": now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "source": source,
        "blueprint": blueprint_section(blueprint),
        "manifests": list(manifests),
        "registry": registry,
        "audit": audit,
        "promotion": promotion,
        "backups": backups_section(blueprint),
    }
