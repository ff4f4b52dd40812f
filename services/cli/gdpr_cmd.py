"""`mlplat gdpr erase`: a data subject's erasure (GDPR Art. 17, services/compliance/erasure.py).

    mlplat gdpr erase --tenant payments --entity customer_id=42 [--blueprint B]
        [--repo DIR] [--registry URI] [--audit-log FILE]

Removes the person's rows from the tenant's offline sources and online store (the Feast repository at
`--repo`, standalone's by default), writes the erasure to the promotion gate's audit log, and marks
every model version trained on the person for retraining, which the gate then refuses. Prints what it
removed and marked; a second run changes nothing. Exit 0 when erased (or already erased), 2 for a
request it refuses (unknown subject, bad key), with nothing changed.

In the cluster, run it where the tenant's feature data and database are reachable (a pod of the
tenant with the feature-data volume and `feast-credentials`, like the materialization's), signed in to
the registry as a user who may tag the tenant's models.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("gdpr", help="data subjects' rights: erasure (GDPR Art. 17)")
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    erase = actions.add_parser("erase", help="remove a person's rows and mark the models trained on them")
    erase.add_argument("--tenant", required=True, help="the tenant whose feature store holds the person")
    erase.add_argument("--entity", required=True, metavar="KEY=VALUE", help="the person's key, e.g. customer_id=42")
    erase.add_argument("--blueprint", help="shipped name or path [the dev stack's blueprint]")
    erase.add_argument("--repo", type=Path, help="the tenant's Feast repository [.mlplat/features/<tenant>/repo]")
    erase.add_argument("--registry", metavar="URI", help="the registry's tracking URI [MLFLOW_TRACKING_URI]")
    erase.add_argument("--audit-log", type=Path, help="the promotion audit log [MLPLAT_AUDIT_LOG or .mlplat/audit/…]")
    erase.set_defaults(handler=_erase)


def _erase(args: argparse.Namespace) -> int:
    from services.compliance.erasure import ErasureError, erase, parse_subject
    from services.deploy.selection import selected_blueprint
    from services.features.repo import standalone_dir
    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import default_audit_path

    _, blueprint = selected_blueprint(args.blueprint)
    try:
        tenant = blueprint.tenant(args.tenant)
    except KeyError:
        known = ", ".join(t.name for t in blueprint.tenants)
        raise CliError(f"--tenant {args.tenant}: no such tenant in the blueprint (its tenants: {known})") from None
    try:
        subject = parse_subject(tenant, args.entity)
    except ErasureError as exc:
        raise CliError(str(exc)) from None
    repo = args.repo or standalone_dir(Path(".mlplat"), tenant.name) / "repo"
    if not (repo / "feature_store.yaml").is_file():
        raise CliError(f"--repo {repo}: no feature_store.yaml; give the tenant's Feast repository (`features repo`)")
    uri = args.registry or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise CliError("--registry: give the registry's tracking URI (or set MLFLOW_TRACKING_URI)")
    audit = AuditLog(args.audit_log or Path(os.environ.get("MLPLAT_AUDIT_LOG", default_audit_path())))
    from services.features.subjects import open_feature_data

    try:
        done = erase(subject, tenant, open_feature_data(repo, tenant.name), registry.client(uri), audit, say=print)
    except ErasureError as exc:
        raise CliError(str(exc)) from None
    if done.changed:
        for view in done.rows.views:
            print(f"{view.view}: {view.offline} offline rows removed from {view.source}; {view.online} online rows")
        for mark in done.marked:
            print(f"{mark.model} version {mark.version}: marked for retraining ({mark.why}); the gate refuses it")
        where = f"{audit.path} (audit entry {done.audit_hash[:12]})"
        print(f"erasure recorded in {where}, naming the subject by its digest {subject.digest[:12]}")
    return 0
