"""The compliance part of the walkthrough (`mlplat demo` on a blueprint with personal data): train a model
on customer features with its subject lineage, erase one customer, watch the gate refuse the model.

`mlplat demo` runs it as its `erasure` step (services/demo/steps.py), on a running standalone platform
(the tenant's Feast repository under `.mlplat/features/<tenant>/repo`, applied by the plan's start-up
step), signed in as the tenant's user. It writes the tenant's customer activity (generated:
services/features/customers.py), materializes it, trains and registers the model on point-in-time
historical features recording which customers it read, erases `subject`, and returns what happened; the
demo's narration comes through `say`. The model never becomes the champion: it is registered, erased
from, and refused, which is the point of the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from blueprints.schema import Tenant
from services.compliance.erasure import Erasure, erase, parse_subject
from services.compliance.lineage import record_training_subjects
from services.features import customers
from services.features.names import FEATURE_SERVICE_TAG

__all__ = ["WalkthroughResult", "erasure_walkthrough"]


@dataclass(frozen=True)
class WalkthroughResult:
    model: str
    version: str
    erasure: Erasure
    gate_evidence: str  # the no-erased-training-data verdict's evidence


def erasure_walkthrough(
    tenant: Tenant,
    repo: Path,
    data_dir: Path,
    tracking_uri: str,
    audit,
    *,
    subject: str = "customer_id=7",
    say: Callable[[str], None] = print,
) -> WalkthroughResult:
    """The step; `audit` is the gate's AuditLog, `data_dir` the tenant's offline feature data folder."""
    from services.features.store import historical_features, materialize
    from services.features.subjects import open_feature_data
    from services.promotion_gate import registry
    from services.promotion_gate.gate import promote
    from services.promotion_gate.rules import load_rules

    store = tenant.features
    if store is None:
        raise ValueError(f"tenant {tenant.name!r} declares no feature store")
    model = next(m for m in tenant.models if m.features is not None)
    view = store.view(store.service(model.features.service).feature_views[0])
    now = datetime.now(UTC).replace(microsecond=0)
    source = data_dir / view.source.path
    source.parent.mkdir(parents=True, exist_ok=True)
    customers.activity(now, timestamp_field=view.source.timestamp_field).to_parquet(source, index=False)
    materialize(repo, tenant=tenant.name)
    say(f"[erasure] {tenant.name}/{view.name}: 40 customers' activity written to {source} and materialized")

    training = historical_features(repo, model.features.service, customers.labels(now))
    version = _train(tracking_uri, tenant, model.name, model.features.service, training)
    say(f"[erasure] {model.name} version {version} trained on {len(training)} customers; its lineage records which")

    client = registry.client(tracking_uri)
    erased = erase(parse_subject(tenant, subject), tenant, open_feature_data(repo, tenant.name), client, audit, say=say)
    offline, online = sum(v.offline for v in erased.rows.views), sum(v.online for v in erased.rows.views)
    marked = ", ".join(f"{m.model} v{m.version}" for m in erased.marked) or "none"
    say(f"[erasure] erased {subject}: {offline} offline rows, {online} online rows; versions marked: {marked}")

    decision = promote(client, load_rules(), audit, model.name, version, "challenger", dry_run=True)
    verdict = next(v for v in decision.verdicts if v.rule == "no-erased-training-data")
    say(f"[erasure] the gate refuses {model.name} version {version}: {verdict.evidence}")
    return WalkthroughResult(model.name, version, erased, verdict.evidence)


def _train(tracking_uri: str, tenant: Tenant, name: str, service: str, training) -> str:
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from services.promotion_gate import registry

    x, y = training[list(customers.FEATURES)], training[customers.TARGET]
    estimator = LogisticRegression(max_iter=500).fit(x, y)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(f"{tenant.name}-{name}")
    with mlflow.start_run():
        mlflow.log_metric("accuracy", float(estimator.score(x, y)))
        record_training_subjects(tenant.name, training, [customers.KEY])
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            signature=infer_signature(x, estimator.predict(x)),
            input_example=x.head(3),
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    client = registry.client(tracking_uri)
    tags = {"owner": tenant.name, "training_data_digest": f"feast:{tenant.name}/{service}",
            "code_version": "walkthrough", FEATURE_SERVICE_TAG: service}  # fmt: skip
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=f"{name}: fraud risk from customer activity (walkthrough)")
    return version
