"""A data subject's erasure (GDPR Art. 17): `mlplat gdpr erase --tenant T --entity <join key>=<value>`.

In this order, and only after every check passed (nothing is half-applied by a bad request):
1. find the person: their rows in each feature view's offline source and online table
   (services/features/subjects.py), and the registered model versions trained on them, from the
   training lineage the registry keeps (lineage.py);
2. append the erasure to the promotion gate's audit log: who, when, which tenant and entity, the
   person as a digest (the append-only log must not hold the identifier it records erasing), what is
   removed and which versions are marked;
3. delete the rows: offline first, then online;
4. tag each version trained on the person `platform.mlops/retrain-required` with the erasure's audit
   hash: the promotion gate's `no-erased-training-data` rule refuses it from then on.

Which versions: one whose run recorded its training subjects is marked when the person is among
them; one trained on the tenant's feature store (its feature-service tag names a service reading a
view keyed by this entity) that recorded no subjects is marked too, because nothing shows the person
was not in its data. Erasure is conservative where lineage is silent.

Idempotent: a second run finds nothing left, sees the earlier erasure in the audit log, changes
nothing and says so; a run interrupted after step 2 is completed by the next one. A person found
nowhere (no row, no lineage, no earlier erasure) is refused, and nothing changes.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from blueprints.schema import Tenant
from services.compliance.lineage import subject_digest, training_subjects
from services.features.names import FEATURE_SERVICE_TAG
from services.features.subjects import FeatureData, SubjectRows

__all__ = ["RETRAIN_TAG", "ErasureError", "Subject", "Marked", "Erasure", "parse_subject", "erase"]

RETRAIN_TAG = "platform.mlops/retrain-required"


class ErasureError(ValueError):
    """The request cannot be carried out; nothing was changed. The message names the field and the fix."""


@dataclass(frozen=True)
class Subject:
    tenant: str
    entity: str
    join_key: str
    value: int | str

    @property
    def digest(self) -> str:
        return subject_digest(self.tenant, self.join_key, self.value)


@dataclass(frozen=True)
class Marked:
    model: str
    version: str
    why: str


@dataclass
class Erasure:
    subject: Subject
    rows: SubjectRows
    marked: list[Marked] = field(default_factory=list)
    audit_hash: str | None = None
    earlier: dict[str, Any] | None = None  # the earlier erasure of the same person, on a repeat run

    @property
    def changed(self) -> bool:
        return self.audit_hash is not None


def parse_subject(tenant: Tenant, entity: str) -> Subject:
    """`customer_id=42` -> the Subject, checked against the tenant's declared entities."""
    key, sep, raw = entity.partition("=")
    if not sep or not key or not raw:
        raise ErasureError(f"--entity {entity!r}: write <join key>=<value> (e.g. customer_id=42)")
    if tenant.features is None:
        raise ErasureError(f"--tenant {tenant.name}: declares no feature store, so it holds no rows to erase")
    match = next((e for e in tenant.features.entities if e.key == key), None)
    if match is None:
        keys = ", ".join(e.key for e in tenant.features.entities)
        raise ErasureError(f"--entity {entity!r}: {key!r} is not a join key of tenant {tenant.name} (its keys: {keys})")
    if not match.subject:
        raise ErasureError(
            f"--entity {entity!r}: entity {match.name!r} is not a data subject (subject: true in the blueprint): "
            "erasure removes a person, and the blueprint says this entity is not one"
        )
    if match.type == "int64":
        try:
            return Subject(tenant.name, match.name, key, int(raw))
        except ValueError:
            raise ErasureError(f"--entity {entity!r}: {key} is an int64 key; {raw!r} is not an integer") from None
    return Subject(tenant.name, match.name, key, raw)


def _candidates(client, tenant: Tenant, subject: Subject) -> list[tuple[Any, str]]:
    """(version, why) for every version of the tenant's models trained on the person, by its lineage."""
    store = tenant.features
    assert store is not None
    services = {
        s.name for s in store.feature_services if any(subject.entity in store.view(v).entities for v in s.feature_views)
    }
    found = []
    for model in tenant.models:
        for summary in client.search_model_versions(f"name = '{model.name}'"):
            version = client.get_model_version(model.name, summary.version)
            subjects = training_subjects(client, version.run_id)
            if subjects is not None:
                if subject.digest in subjects:
                    found.append((version, "its training lineage lists the subject"))
            elif (version.tags or {}).get(FEATURE_SERVICE_TAG) in services:
                service = version.tags[FEATURE_SERVICE_TAG]
                found.append((version, f"trained on feature service {service}, with no subject lineage recorded"))
    return found


def erase(
    subject: Subject,
    tenant: Tenant,
    data: FeatureData,
    client,
    audit,
    *,
    actor: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Erasure:
    """Steps 1-4 of the module docstring. `audit` is the gate's AuditLog, `client` an MlflowClient."""
    assert tenant.features is not None
    types = {e.key: e.type for e in tenant.features.entities}
    rows = data.find(subject.join_key, subject.value, types)
    lineage = _candidates(client, tenant, subject)
    by_lineage = [(v, why) for v, why in lineage if why.startswith("its training lineage")]
    earlier = next(
        (
            e
            for e in reversed(audit.entries())
            if e.get("event") == "erasure" and e.get("tenant") == subject.tenant and e.get("subject") == subject.digest
        ),
        None,
    )
    to_mark = [(v, why) for v, why in lineage if RETRAIN_TAG not in (v.tags or {})]
    result = Erasure(subject, rows, earlier=earlier)
    if rows.empty and not by_lineage and earlier is None:
        raise ErasureError(
            f"--entity {subject.join_key}={subject.value}: no such subject in tenant {subject.tenant}: no row in "
            f"{', '.join(v.view for v in rows.views) or 'any feature view'}, offline or online, and no training "
            "lineage names it; nothing was changed"
        )
    if rows.empty and not to_mark and earlier is not None:
        say(f"already erased (audit entry {earlier['hash'][:12]}, {earlier['time']}): nothing left to remove")
        return result
    with audit.locked():
        result.audit_hash = audit.append(_record(subject, rows, to_mark, actor))
    data.delete(subject.join_key, subject.value, rows)
    when = datetime.now(UTC).date().isoformat()
    for version, why in to_mark:
        reason = f"erasure {result.audit_hash[:12]} ({when}): trained on an erased subject's data; {why}"
        client.set_model_version_tag(version.name, version.version, RETRAIN_TAG, reason)
        result.marked.append(Marked(version.name, str(version.version), why))
    return result


def _record(subject: Subject, rows: SubjectRows, to_mark: list[tuple[Any, str]], actor: str | None) -> dict:
    return {
        "event": "erasure",
        "time": datetime.now(UTC).isoformat(timespec="microseconds"),
        "actor": actor or getpass.getuser(),
        "tenant": subject.tenant,
        "entity": subject.entity,
        "joinKey": subject.join_key,
        "subject": subject.digest,
        "removed": {v.view: {"offline": v.offline, "online": v.online} for v in rows.views},
        "retrain": [{"model": v.name, "version": str(v.version), "why": why} for v, why in to_mark],
    }
