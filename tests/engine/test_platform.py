"""Every shipped blueprint through the real engine: `pulumi up`, `preview`, `refresh`, an update and
`destroy`, with the pinned Pulumi CLI and Kubernetes provider, onto the real API server of the sim cluster.

What this proves that the mocks cannot: the provider's ordering and await logic (each Deployment and
StatefulSet is waited on until its kwok-simulated pods are Ready), the API server's validation,
defaulting and admission (PodSecurity `restricted`, quotas, limit ranges, the admission policies) of
every object, the provider's diff of server state against the program (no change after up, no drift
after refresh), the plan of a blueprint change, and a destroy that leaves nothing behind.
The expected plan of an update is computed from the program itself under mocks (`plan_of`), so the
engine and the mocks must agree on what a blueprint change means.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from blueprints.naming import PART_OF
from blueprints.quantity import parse_quantity
from infra.render import render_blueprint, write_manifests
from services.engine import sim, workloads
from tests.engine.conftest import REPORT, engine_for, timed

BLUEPRINTS = ("foundation", "multi-tenant", "enterprise")
ROOT = Path(__file__).resolve().parents[2]
SIM_CONFIG = {"mlops-platform:metricsServer": "false"}  # what the sim target deploys (ADR 0008)
Key = tuple[str, str, str]


def key(manifest: dict) -> Key:
    meta = manifest["metadata"]
    return manifest["kind"], meta.get("namespace") or "", meta["name"]


def rendered(blueprint: str | Path) -> dict[Key, dict]:
    """The program's objects under mocks, as the sim target configures it; secret values masked."""
    return {key(m): m for m in render_blueprint(blueprint, config=SIM_CONFIG, mask_secrets=True).manifests}


def plan_of(before: dict[Key, dict], after: dict[Key, dict]) -> dict[Key, str]:
    """What a change of blueprint must do to the cluster, from the program's own output: objects only in
    `after` are created, objects whose manifest changed are changed, objects only in `before` deleted."""
    plan = {k: "create" for k in after.keys() - before.keys()}
    plan.update({k: "delete" for k in before.keys() - after.keys()})
    plan.update({k: "change" for k in before.keys() & after.keys() if before[k] != after[k]})
    return plan


def engine_plan(events) -> dict[Key, str]:
    """The Kubernetes objects a preview would touch and how, from the engine's step events."""
    plan = {}
    for event in events:
        pre = event.resource_pre_event
        if pre is None or not pre.metadata.type.startswith("kubernetes:") or pre.metadata.op == "same":
            continue
        kind = pre.metadata.type.rsplit(":", 1)[1]
        old, new = (
            (state.inputs.get("metadata", {}) if state else {}) for state in (pre.metadata.old, pre.metadata.new)
        )
        key = (kind, (new or old).get("namespace") or "", (new or old)["name"])
        op = pre.metadata.op
        if op in ("replace", "create-replacement", "delete-replaced"):
            if old and new and old["name"] != new["name"]:
                # A renamed object (a Job named after its content's digest): the engine replaces one
                # Pulumi resource, the cluster gets a new object and loses the old one.
                plan[key] = "create"
                plan[(kind, old.get("namespace") or "", old["name"])] = "delete"
                continue
            if key in plan:  # a later step of a replacement already recorded
                continue
            op = "change"
        plan[key] = "change" if op == "update" else op
    return plan


def variant(blueprint: str, folder: Path) -> Path:
    """The blueprint with three changes at once: a new tenant with a model, one model's max replicas
    raised, and one tenant's storage quota tightened."""
    data = yaml.safe_load((ROOT / "blueprints" / f"{blueprint}.yaml").read_text())
    first = data["tenants"][0]
    first["models"][0]["replicas"]["max"] += 1
    storage = parse_quantity(first["quotas"]["storage"])
    first["quotas"]["storage"] = f"{int(storage * 3 / 4 / 2**20)}Mi"
    data["tenants"].append(
        {
            "name": "engine-newcomer",
            "quotas": {"cpu": "2", "memory": "2Gi", "pods": 6, "storage": "1Gi"},
            "models": [{"name": "probe", "replicas": {"min": 1, "max": 1}}],
        }
    )
    path = folder / f"{blueprint}-variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def live_platform_objects(cluster) -> list[str]:
    """Every object of any listable kind, namespaced or cluster-scoped, that carries the platform's label."""
    kinds = cluster.kubectl("api-resources", "--verbs=list", "-o", "name").split()
    listing = cluster.kubectl("get", ",".join(kinds), "-A", "-l", f"app.kubernetes.io/part-of={PART_OF}", "-o=name")
    return listing.split()


@pytest.fixture(scope="module", params=BLUEPRINTS)
def deployed(request, cluster, tmp_path_factory):
    engine = engine_for(request.param, cluster, tmp_path_factory.mktemp(f"stack-{request.param}"))
    stack = engine.stack()
    try:
        result, seconds = timed(lambda: stack.up(on_output=engine.output, color="never"))
    except Exception:
        pytest.fail(f"pulumi up of {request.param} failed:\n{engine.tail()}", pytrace=False)
    REPORT[request.param] = {
        "up_seconds": seconds,
        "created": result.summary.resource_changes.get("create", 0),
        "kubernetes_objects": len(rendered(request.param)),
    }
    yield engine
    stack.destroy(on_output=engine.output, color="never")  # a no-op when the destroy test ran


def test_up_creates_every_object_the_program_declares_and_each_workload_gets_ready(deployed, cluster):
    expected = rendered(deployed.blueprint)
    live = set()
    for kind in sorted({k for k, _, _ in expected}):
        items = json.loads(cluster.kubectl("get", kind, "-A", "-o=json"))["items"]
        live |= {(kind, i["metadata"].get("namespace") or "", i["metadata"]["name"]) for i in items}
    assert set(expected) - live == set()
    assert workloads.not_ready(cluster.kubectl_bin, cluster.kubeconfig, sim.CONTEXT) == []


@pytest.mark.parametrize(
    "kind",
    ["HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob", "NetworkPolicy", "ResourceQuota", "LimitRange"]
    + ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"],
)
def test_guardrail_objects_exist_as_the_blueprint_says(deployed, cluster, kind):
    expected = {k: m for k, m in rendered(deployed.blueprint).items() if k[0] == kind}
    listing = json.loads(cluster.kubectl("get", kind, "-A", "-o=json"))
    live = {
        key(item): item
        for item in listing["items"]
        if item["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == PART_OF
    }
    assert set(live) == set(expected)
    for object_key, manifest in expected.items():
        if kind == "ResourceQuota":
            hard = {r: parse_quantity(str(v)) for r, v in live[object_key]["spec"]["hard"].items()}
            assert hard == {r: parse_quantity(str(v)) for r, v in manifest["spec"]["hard"].items()}
        if kind == "HorizontalPodAutoscaler":
            for field in ("minReplicas", "maxReplicas"):
                assert live[object_key]["spec"][field] == manifest["spec"][field]
        if kind == "CronJob":
            assert live[object_key]["spec"]["schedule"] == manifest["spec"]["schedule"]


def test_preview_after_up_shows_no_changes(deployed):
    result = deployed.stack().preview(on_output=deployed.output, color="never")
    changes = {op: n for op, n in result.change_summary.items() if op != "same"}
    assert changes == {}, deployed.tail()


def test_refresh_shows_no_drift(deployed):
    result = deployed.stack().refresh(on_output=deployed.output, color="never")
    drift = {op: n for op, n in result.summary.resource_changes.items() if op != "same"}
    assert drift == {}, deployed.tail()


def test_server_side_dry_run_accepts_every_manifest_make_render_writes(deployed, cluster, tmp_path):
    written = write_manifests(render_blueprint(deployed.blueprint, mask_secrets=True).manifests, tmp_path)
    # Onto the live platform (a namespaced object needs its namespace to exist); --force-conflicts because
    # Pulumi owns these fields, and in a dry run taking them over persists nothing.
    output = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "--field-manager=render-check",
        "-R",
        "-f",
        str(tmp_path),
    )
    assert output.count("(server dry run)") == len(written)


def test_tenant_service_accounts_are_confined_to_what_their_role_grants(deployed, cluster):
    objects = rendered(deployed.blueprint)
    namespaces = sorted(n for k, _, n in objects if k == "Namespace")
    tenants = [n for n in namespaces if ("Role", n, "tenant-developer") in objects]
    assert tenants
    for namespace in tenants:
        team = f"system:serviceaccount:{namespace}:team"
        serving = f"system:serviceaccount:{namespace}:serving"
        for other in (n for n in namespaces if n != namespace):
            assert not cluster.can_i("get", "secrets", other, team), f"{team} reads Secrets in {other}"
            assert not cluster.can_i("create", "pods", other, team), f"{team} creates pods in {other}"
        for verb, resource in (("update", "resourcequotas"), ("delete", "resourcequotas"), ("patch", "limitranges")):
            assert not cluster.can_i(verb, resource, namespace, team), f"{team} can {verb} {resource}"
        for resource in ("validatingadmissionpolicies", "validatingadmissionpolicybindings"):
            assert not cluster.can_i("update", resource, namespace, team)
            assert not cluster.can_i("delete", resource, namespace, team)
        assert not cluster.can_i("get", "secrets", namespace, team), "the Role grants no Secrets"
        for verb, resource in (
            ("list", "pods"),
            ("get", "deployments.apps"),
            ("get", "pods/log"),
            ("watch", "cronjobs.batch"),
        ):
            assert cluster.can_i(verb, resource, namespace, team), f"{team} should {verb} {resource}"
        assert cluster.can_i("create", "pods/portforward", namespace, team)
        assert not cluster.can_i("list", "pods", namespace, serving), "the serving identity has no API rights"


def test_a_blueprint_change_plans_and_updates_exactly_what_the_program_says(deployed, tmp_path):
    changed = variant(deployed.blueprint, tmp_path)
    expected = plan_of(rendered(deployed.blueprint), rendered(changed))
    # The variant adds and changes; the only objects it deletes are the registry's access-bootstrap
    # Jobs, renamed after the new access plan's digest (a new tenant is a new user to grant).
    deleted = sorted(k for k, op in expected.items() if op == "delete")
    assert deleted and all(kind == "Job" and name.startswith("registry-access-") for kind, _, name in deleted)
    assert len([k for k, op in expected.items() if op == "create" and k[2].startswith("registry-access-")]) == len(
        deleted
    )
    events = []
    stack = deployed.stack(blueprint=changed)
    stack.preview(on_output=deployed.output, on_event=events.append, color="never")
    assert engine_plan(events) == expected, deployed.tail()
    _, seconds = timed(lambda: stack.up(on_output=deployed.output, color="never"))
    REPORT[deployed.blueprint]["update"] = {
        "created": sum(op == "create" for op in expected.values()),
        "replaced": [f"{k[0]} {k[1]}/{k[2]}" for k in deleted],
        "changed": sorted(f"{k[0]} {k[1]}/{k[2]}" for k, op in expected.items() if op == "change"),
        "seconds": seconds,
    }
    after = stack.preview(on_output=deployed.output, color="never")
    assert {op: n for op, n in after.change_summary.items() if op != "same"} == {}


def test_destroy_leaves_no_platform_object_of_any_kind(deployed, cluster):
    namespaces = [n for k, _, n in rendered(deployed.blueprint) if k == "Namespace"]
    result, seconds = timed(lambda: deployed.stack().destroy(on_output=deployed.output, color="never"))
    REPORT[deployed.blueprint].update(
        destroyed=result.summary.resource_changes.get("delete", 0), destroy_seconds=seconds
    )
    assert live_platform_objects(cluster) == []
    left = set(cluster.kubectl("get", "namespaces", "-o", "name").split())
    assert not left & {f"namespace/{n}" for n in namespaces}
    deadline = time.monotonic() + 60
    volumes = cluster.kubectl("get", "persistentvolumes", "-o", "name").split()
    while volumes and time.monotonic() < deadline:  # the provisioner deletes Released volumes each second
        time.sleep(1)
        volumes = cluster.kubectl("get", "persistentvolumes", "-o", "name").split()
    assert volumes == []
