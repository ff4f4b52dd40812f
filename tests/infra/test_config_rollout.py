"""A configuration the pods read once at start rolls them when it changes (the config-hash annotation)."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.k8s import CONFIG_HASH
from infra.render import render_blueprint
from tests.infra.conftest import find, rendered

ROOT = Path(__file__).resolve().parents[2]
ROOT_BLUEPRINT = "foundation"


def _variant(tmp_path, change) -> list[dict]:
    data = yaml.safe_load((ROOT / "blueprints" / f"{ROOT_BLUEPRINT}.yaml").read_text())
    change(data)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return render_blueprint(path).manifests


def _hash(manifests: list[dict], name: str, namespace: str) -> str:
    return find(manifests, "Deployment", name, namespace)["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]


def test_a_new_model_route_rolls_the_gateway_and_nothing_else(tmp_path):
    base = rendered(ROOT_BLUEPRINT).manifests

    def add_model(data: dict) -> None:
        data["tenants"][0]["models"].append({"name": "second", "replicas": {"min": 1, "max": 1}})
        data["tenants"][0]["quotas"].update(cpu="6", memory="6Gi")  # room for its pods

    changed = _variant(tmp_path, add_model)
    assert _hash(changed, "gateway", "mlops-system") != _hash(base, "gateway", "mlops-system")
    for app in ("prometheus", "alertmanager", "grafana"):
        assert _hash(changed, app, "mlops-monitoring") == _hash(base, app, "mlops-monitoring")


def test_a_tighter_slo_rolls_prometheus_with_its_new_rules(tmp_path):
    base = rendered(ROOT_BLUEPRINT).manifests
    changed = _variant(tmp_path, lambda d: d["platform"]["monitoring"].update(slo={"latencySeconds": 0.1}))
    assert _hash(changed, "prometheus", "mlops-monitoring") != _hash(base, "prometheus", "mlops-monitoring")
    assert _hash(changed, "gateway", "mlops-system") == _hash(base, "gateway", "mlops-system")
