"""Platform: the program's shape, its provider, and each blueprint's footprint."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from blueprints.quantity import parse_quantity
from infra.components.gateway import nginx_config
from infra.render import render_blueprint
from tests.infra.conftest import rendered
from tests.infra.integrity import pod_templates

GiB = Decimal(2**30)


def footprint(manifests: list[dict]) -> tuple[Decimal, Decimal]:
    """CPU cores and memory bytes requested at steady state (workload replicas; CronJobs excluded)."""
    cpu = memory = Decimal(0)
    for owner, template in pod_templates(manifests):
        if owner["kind"] not in ("Deployment", "StatefulSet"):
            continue
        replicas = owner["spec"].get("replicas", 1)
        for container in template["spec"]["containers"]:
            requests = container["resources"]["requests"]
            cpu += replicas * parse_quantity(requests["cpu"])
            memory += replicas * parse_quantity(requests["memory"])
    return cpu, memory


def test_foundation_fits_a_laptop_kind_node():
    cpu, memory = footprint(rendered("foundation").manifests)
    assert cpu <= 2, cpu
    assert memory <= 4 * GiB, memory / GiB


def test_footprint_counts_replicas(blueprint_name):
    cpu, memory = footprint(rendered(blueprint_name).manifests)
    assert cpu > 0 and memory > 0
    assert footprint(rendered("enterprise").manifests)[0] > footprint(rendered("foundation").manifests)[0]


def test_every_kubernetes_object_goes_through_the_explicit_provider_bound_to_the_stack_context():
    captured = render_blueprint("foundation", kube_context="kind-elsewhere")
    assert ("pulumi:providers:kubernetes", "cluster") in captured.others


def test_components_are_composed_as_the_design_says(blueprint_name):
    types = Counter(t for t, _ in rendered(blueprint_name).others)
    assert types["mlops-platform:platform:Platform"] == 1
    assert types["mlops-platform:platform:Monitoring"] == 1
    assert types["mlops-platform:platform:MetricsServer"] == 1
    assert types["mlops-platform:platform:AdmissionPolicies"] == 1
    assert types["mlops-platform:platform:Tenant"] >= 1
    assert types["mlops-platform:platform:ModelService"] >= 1


def test_batch_jobs_and_trained_models_get_their_components():
    types = Counter(t for t, _ in rendered("foundation").others)
    assert types["mlops-platform:platform:BatchScoring"] == 1
    assert types["mlops-platform:platform:ModelTraining"] == 1
    assert types["mlops-platform:platform:TrainingTrigger"] == 1


def test_enterprise_has_a_second_registry_for_its_regulated_tenant():
    types = Counter(t for t, _ in rendered("enterprise").others)
    assert types["mlops-platform:platform:ModelRegistry"] == 2


@pytest.mark.parametrize("context", [None, "  "])
def test_the_program_refuses_to_deploy_without_a_named_kube_context(context):
    # Never fall back to whatever context happens to be current.
    with pytest.raises(Exception, match="kubeContext"):
        render_blueprint("foundation", kube_context=context)


def test_gateway_routes_every_model_of_every_tenant():
    from blueprints import load

    config = nginx_config(load("multi-tenant"))
    assert "location /fraud/fraud-scorer/" in config
    assert "set $upstream ranker.recsys.svc.cluster.local:8080;" in config
    # one prefix location per model (healthz is an exact match), and the gRPC listener's one location
    assert config.count("location /") == 5
    # gRPC: one route per model, chosen by the mlplat-route header, to the model server's gRPC port
    assert config.count(".svc.cluster.local:8081;") == 4
    assert '"recsys/ranker" ranker.recsys.svc.cluster.local:8081;' in config
    assert "map $http_mlplat_route $grpc_upstream" in config


def test_the_footprint_table_in_the_blueprints_guide_matches_the_render():
    """blueprints/README.md quotes object counts and requests: they must be what the program creates."""
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "blueprints" / "README.md").read_text()
    objects_row = next(line for line in guide.splitlines() if line.startswith("| Kubernetes objects |"))
    requests_row = next(line for line in guide.splitlines() if line.startswith("| steady-state requests |"))
    objects = [int(cell) for cell in objects_row.strip("|").split("|")[1:]]
    requests = [cell.strip() for cell in requests_row.strip("|").split("|")[1:]]
    for index, name in enumerate(("foundation", "multi-tenant", "enterprise", "llm", "federated")):
        manifests = rendered(name).manifests
        cpu, memory = footprint(manifests)
        assert objects[index] == len(manifests), name
        assert requests[index] == f"{cpu:.2f} CPU, {memory / GiB:.2f} GiB", name
