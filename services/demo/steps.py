"""The demo's steps, in the order they run; each function's name is its step.

Every step takes the `Walk` (the blueprint, the running platform, what earlier steps did) and adds its
result to `walk.summary`. A step whose subject the blueprint does not declare (no batch jobs, no model
retrained on drift) says so and passes; a step whose subject is declared but cannot run (Prometheus not
installed, the training trigger missing) fails with a DemoError that names the step and the missing
piece: a demo that skipped half the lifecycle must not look like one that walked it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from services.demo import lifecycle
from services.demo.running import DemoError, StandalonePlatform
from services.demo.walk import Walk
from services.registry.access import GATE, tenant_user
from services.registry.credentials import acting_as

__all__ = ["STEPS", "Step", "Walk"]

NO_RETRAINING = "no model of this blueprint is retrained on drift (training.triggers: [drift] is not declared)"


def features(walk: Walk) -> None:
    """Write each feature store's offline data (generated: flowers or customers) and materialize it, as its
    schedule would."""
    stores = [t for t in walk.blueprint.tenants if t.features is not None]
    if not stores:
        walk.say("[features] no tenant of this blueprint declares a feature store")
    walk.summary["features"] = {t.name: lifecycle.feature_store(walk, t) for t in stores}


def train(walk: Walk) -> None:
    """Train and register each model as its tenant's own user: a champion, and a challenger when it has a canary."""
    for step, (tenant, model) in enumerate(walk.models(), start=1):
        walk.say(
            f"[train {step}] {tenant.name}/{model.name}: train and register, signed in as {tenant_user(tenant.name)}"
        )
        inputs = lifecycle.training_inputs(walk, tenant, model)
        with acting_as(walk.platform.user(tenant_user(tenant.name))):
            versions = [lifecycle.register(model.name, tenant.name, *inputs, c=1.0)]
            if model.canary_weight:
                versions.append(lifecycle.register(model.name, tenant.name, *inputs, c=0.5))
        walk.registered[model.name] = versions
        walk.say(f"    registered version(s) {', '.join(versions)}")


def gate(walk: Walk) -> None:
    """As the gate's user: approve each version and let the gate promote it (champion, then challenger)."""
    from services.promotion_gate import registry
    from services.promotion_gate.audit import AuditLog
    from services.promotion_gate.gate import promote
    from services.promotion_gate.rules import load_rules

    client = registry.client(walk.require("gate", "mlflow"))
    rules, audit = load_rules(), AuditLog(walk.platform.audit_log())
    with acting_as(walk.platform.user(GATE)):  # the gate's user may move any tenant's alias
        for tenant, model in walk.models():
            versions = walk.registered.get(model.name)
            if not versions:
                raise DemoError(f"step gate: {model.name} has no version from the train step; run it first")
            for version, alias in zip(versions, (model.alias, model.challenger_alias), strict=False):
                registry.approve(client, model.name, version, "platform-reviewer")
                decision = promote(client, rules, audit, model.name, version, alias, actor="demo")
                walk.say(f"[gate] {tenant.name}/{model.name} v{version} -> @{alias}")
                walk.say(lifecycle.indent(decision.table()))
                if not decision.passed:
                    raise DemoError(f"step gate: the gate refused {model.name} v{version}; see the table above")
                if alias == model.alias:
                    walk.summary["promoted"].append((model.name, version, model.alias))


def federated(walk: Walk) -> None:
    """Train each federated model with a short Flower run over simulated devices, gate it and check it is served."""
    if not any(m.federated for t in walk.blueprint.tenants for m in t.models):
        walk.say("[federated] no model of this blueprint is trained by federated learning")
        return
    from services.federated.demo import DemoStepError, federated_demo
    from services.federated.launch import LaunchError

    if not isinstance(walk.platform, StandalonePlatform):
        raise DemoError("step federated: it runs on the standalone platform; in a cluster a run is its CronJob's Job")
    try:
        walk.summary["federated"] = federated_demo(walk.blueprint, walk.platform.root, say=walk.say)
    except (DemoStepError, LaunchError) as exc:
        raise DemoError(f"step federated: {exc}") from None


def serve(walk: Walk) -> None:
    """Send traffic to every model's endpoint and check the answers against the training labels."""
    walk.say("[serve] waiting for the model servers to pick up the champions, then sending requests")
    for tenant, model in walk.models():
        server = walk.platform.model_url(tenant.name, model.name)
        if server is None:
            raise DemoError(f"step serve: {walk.platform.missing(f'serving-{tenant.name}')}")
        if model.features is not None:
            walk.summary["answers"] += lifecycle.entity_traffic(walk, tenant, model, server)
        else:
            walk.summary["answers"] += lifecycle.traffic(server, model.name, walk.x, walk.y)
    walk.say(f"    {walk.summary['answers']} answers checked against the training labels")


def batch(walk: Walk) -> None:
    """Run each batch job once, as its schedule would, on an input with a few bad rows in it."""
    jobs = [job for tenant in walk.blueprint.tenants for job in tenant.batch]
    schedules = {s["name"]: s for s in walk.platform.schedules("batch")}
    if not jobs:
        walk.say("[batch] no batch job in this blueprint")
    for job in jobs:
        if job.name not in schedules:
            raise DemoError(f"step batch: the platform does not schedule batch job {job.name!r}")
        walk.summary["batch"].append(lifecycle.batch_once(walk, schedules[job.name]))


def drift(walk: Walk) -> None:
    """Send drifted inputs to the model retrained on drift until Prometheus fires the drift alert."""
    retrained = walk.retrained_on_drift()
    if retrained is None:
        walk.say(f"[drift] {NO_RETRAINING}: the drift alert has no loop to start")
        return
    prometheus = walk.require("drift", "prometheus")
    tenant, model = retrained
    server = walk.platform.model_url(tenant.name, model.name)
    walk.say(
        f"[drift] sending drifted inputs to {tenant.name}/{model.name} (every feature scaled x3), waiting for the alert"
    )
    # the trigger's audit log outlives a demo (a volume on a cluster): the retrain step reads only what follows
    walk.summary["audit_before"] = {e.get("hash") for e in walk.platform.audit_entries()}
    alert = lifecycle.drift_alert(server, model.name, prometheus, walk.x, walk.drift_timeout)
    walk.summary["drift_alert"], walk.summary["drift_fired"] = alert, time.monotonic()
    labels = alert["labels"]
    walk.say(f"    alert {labels['alertname']} is FIRING for {labels.get('model')} (feature {labels.get('feature')})")


def retrain(walk: Walk) -> None:
    """The loop closes: the alert reaches the training trigger, a run registers a version, and the gate makes it
    the challenger."""

    retrained = walk.retrained_on_drift()
    if retrained is None:
        walk.say(f"[retrain] {NO_RETRAINING}")
        return
    tenant, model = retrained
    if walk.summary["drift_alert"] is None:
        raise DemoError("step retrain: needs the drift step's alert; run drift first")
    walk.require("retrain", "alertmanager")
    walk.require("retrain", "training-trigger")
    walk.say(
        "[retrain] Alertmanager routes the alert to the training trigger; waiting for the run and the gate "
        f"(up to {walk.retrain_timeout:.0f}s)"
    )
    fired = walk.summary["drift_fired"]
    deadline = time.monotonic() + walk.retrain_timeout

    earlier = walk.summary.get("audit_before", set())

    def entry(event: str, **match) -> dict | None:
        wanted = {"event": event, "model": model.name, **match}
        entries = (e for e in walk.platform.audit_entries() if e.get("hash") not in earlier)
        return next((e for e in entries if all(e.get(k) == v for k, v in wanted.items())), None)

    started = lifecycle.wait(lambda: entry("training-trigger", decision="started", trigger="drift"), deadline)
    walk.say(
        f"    +{time.monotonic() - fired:.0f}s trigger: alert {started['fingerprint']} started run {started['run_id']}"
    )
    finished = lifecycle.wait(lambda: entry("training-run", run_id=started["run_id"]), deadline)
    if finished["outcome"] != "succeeded" or finished["gate"] != "pass":
        raise DemoError(f"step retrain: the run did not produce a challenger: {finished}; see {finished.get('where')}")
    walk.say(
        f"    +{time.monotonic() - fired:.0f}s run finished in {finished['seconds']:.0f}s: "
        f"version {finished['version']}, gate PASS -> @{model.challenger_alias}"
    )
    walk.summary["retrain"] = {
        "run_id": started["run_id"],
        "fingerprint": started["fingerprint"],
        "version": finished["version"],
    }


def challenger(walk: Walk) -> None:
    """The model server serves the retrained version as the challenger, at the blueprint's canary weight."""
    retrained = walk.summary["retrain"]
    if retrained is None:
        walk.say("[challenger] no retrained version in this blueprint's lifecycle")
        return
    tenant, model = walk.retrained_on_drift()
    server, version = walk.platform.model_url(tenant.name, model.name), retrained["version"]

    def serving() -> bool:
        with urllib.request.urlopen(f"{server}/v2/models/{model.name}", timeout=5) as response:
            variants = json.load(response)["parameters"]["variants"]
        return variants.get("challenger", {}).get("version") == version

    lifecycle.wait(serving, time.monotonic() + walk.retrain_timeout)
    seconds = time.monotonic() - walk.summary["drift_fired"]
    share = lifecycle.challenger_share(server, model.name, walk.x)
    walk.say(
        f"[challenger] +{seconds:.0f}s the model server serves version {version} as the challenger: "
        f"{share:.1%} of 400 requests (canary weight {model.canary_weight}%)"
    )
    retrained.update({"seconds_to_serving": round(seconds, 1), "challenger_share": share})


def erasure(walk: Walk) -> None:
    """Erase one customer from each personal-data feature store (GDPR Art. 17): train on the customers with
    their lineage, erase one, and the gate refuses the model trained on them."""
    from services.compliance.walkthrough import erasure_walkthrough
    from services.features.examples import CUSTOMERS
    from services.promotion_gate.audit import AuditLog

    personal = [
        (t, [v for v in t.features.feature_views if v.classification.pii])
        for t in walk.blueprint.tenants
        if t.features is not None and any(v.classification.pii for v in t.features.feature_views)
    ]
    if not personal:
        walk.say("[erasure] no feature view of this blueprint holds personal data (classification.pii)")
        return
    if not isinstance(walk.platform, StandalonePlatform):
        raise DemoError(
            "step erasure: it reads and deletes a tenant's feature data directly (its Parquet sources and online "
            "store), which the demo reaches on the standalone platform only; in a cluster, run `mlplat gdpr erase` "
            "in a pod of the tenant that mounts its feature data (docs/compliance.md)"
        )
    tracking_uri = walk.require("erasure", "mlflow")
    for tenant, views in personal:
        for view in views:
            if lifecycle.example(tenant, view, step="erasure") is not CUSTOMERS:
                raise DemoError(
                    f"step erasure: {tenant.name}/{view.name} holds personal data the demo does not generate; the "
                    f"walkthrough erases a customer of the customer example ({CUSTOMERS.key})"
                )
        subject = f"{CUSTOMERS.key}=7"
        with acting_as(walk.platform.user(tenant_user(tenant.name))):  # the tenant's own models and data
            result = erasure_walkthrough(
                tenant,
                walk.platform.feature_repo(tenant.name),
                walk.platform.feature_data(tenant.name),
                tracking_uri,
                AuditLog(walk.platform.audit_log()),
                subject=subject,
                say=walk.say,
            )
        walk.summary["erasure"].append(
            {
                "tenant": tenant.name,
                "subject": subject,
                "model": result.model,
                "version": result.version,
                "offline_rows": sum(v.offline for v in result.erasure.rows.views),
                "online_rows": sum(v.online for v in result.erasure.rows.views),
                "marked": [(m.model, m.version) for m in result.erasure.marked],
                "refused": result.gate_evidence,
            }
        )


def llm(walk: Walk) -> None:
    """Register, gate and promote each LLM, then send each consuming tenant's traffic through the LLM gateway."""
    if walk.blueprint.platform.llm is None:
        walk.say("[llm] this blueprint serves no LLM")
        return
    from services.llm.demo import run_llm_demo

    if not isinstance(walk.platform, StandalonePlatform):
        raise DemoError("step llm: it reads the tenants' gateway keys of a standalone platform; run it there")
    gateway = walk.require("llm", "llm-gateway")
    walk.summary["llm"] = run_llm_demo(
        walk.blueprint,
        walk.platform.root,
        tracking_uri=walk.require("llm", "mlflow"),
        gateway_url=gateway,
        as_tenant=lambda tenant: acting_as(walk.platform.user(tenant_user(tenant))),
        as_gate=lambda: acting_as(walk.platform.user(GATE)),
        say=walk.say,
    )


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Walk], None]

    @property
    def what(self) -> str:
        return " ".join((self.run.__doc__ or "").split())


STEPS = tuple(
    Step(f.__name__, f)
    for f in (features, train, gate, federated, serve, batch, drift, retrain, challenger, erasure, llm)
)
