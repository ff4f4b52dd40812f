"""Grafana is not built here (docs/air-gapped.md#grafana): its image comes across the gap with `docker load`.
When it has been loaded, this test runs it as the Deployment does (UID 472, read-only root) with the
platform's provisioning, and checks through Grafana's HTTP API that the provisioned datasource and every
dashboard loaded. Without the image it is skipped, and says how to run it."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request

import pytest

from infra import images as pins
from services.monitoring.dashboards import grafana_dashboards
from tests.images.conftest import pod_volumes
from tests.infra.conftest import find, rendered


def _api(container, port: int, path: str, user: str, password: str):
    request = urllib.request.Request(f"http://127.0.0.1:{container.port(port)}{path}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_the_provisioned_datasource_and_every_dashboard_load(run_as_pod, tmp_path):
    loaded = subprocess.run(["docker", "image", "inspect", pins.GRAFANA], capture_output=True, check=False)
    if loaded.returncode != 0:
        pytest.skip(
            f"{pins.GRAFANA} is not loaded: it cannot be built here (docs/air-gapped.md#grafana); "
            "`docker load -i grafana.tar` runs this test"
        )
    manifests = rendered("foundation").manifests
    deployment = find(manifests, "Deployment", "grafana", "mlops-monitoring")
    spec = deployment["spec"]["template"]["spec"]["containers"][0]
    admin = find(manifests, "Secret", "grafana-admin", "mlops-monitoring")["stringData"]
    env = {e["name"]: e["value"] for e in spec["env"] if "value" in e}
    env.update(GF_SECURITY_ADMIN_USER=admin["admin-user"], GF_SECURITY_ADMIN_PASSWORD=admin["admin-password"])
    volumes, scratch = pod_volumes(manifests, deployment, tmp_path)
    port = spec["ports"][0]["containerPort"]
    container = run_as_pod(pins.GRAFANA, pins.GRAFANA_UID, env=env, volumes=volumes, scratch=scratch, ports=(port,))
    container.get(port, spec["readinessProbe"]["httpGet"]["path"], timeout=120)
    sources = _api(container, port, "/api/datasources", admin["admin-user"], admin["admin-password"])
    assert [(s["uid"], s["type"]) for s in sources] == [("prometheus", "prometheus")]
    found = _api(container, port, "/api/search?type=dash-db", admin["admin-user"], admin["admin-password"])
    assert {board["uid"] for board in found} == {board["uid"] for board in grafana_dashboards().values()}
