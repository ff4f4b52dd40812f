"""Prometheus, Alertmanager and the Pushgateway, built from their Go modules, run the platform's own
configuration as 65534 on a read-only root, the way the monitoring Deployments run them."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request

from infra import images as pins
from tests.images.conftest import pod_volumes
from tests.infra.conftest import find, rendered

UID = pins.PROMETHEUS_UID
NAMESPACE = "mlops-monitoring"


def _start(image, run_as_pod, tmp_path, name: str, blueprint: str = "foundation"):
    manifests = rendered(blueprint).manifests
    deployment = find(manifests, "Deployment", name, NAMESPACE)
    spec = deployment["spec"]["template"]["spec"]["containers"][0]
    volumes, scratch = pod_volumes(manifests, deployment, tmp_path)
    port = spec["ports"][0]["containerPort"]
    container = run_as_pod(image(name), UID, args=spec.get("args", []), volumes=volumes, scratch=scratch, ports=(port,))
    return container, spec, port, volumes


def test_prometheus_loads_the_generated_configuration_and_rules_and_serves_its_ui(image, run_as_pod, tmp_path):
    container, spec, port, _ = _start(image, run_as_pod, tmp_path, "prometheus", "enterprise")
    container.get(port, spec["readinessProbe"]["httpGet"]["path"], timeout=90)
    container.get(port, spec["livenessProbe"]["httpGet"]["path"])
    groups = json.loads(container.get(port, "/api/v1/rules"))["data"]["groups"]
    assert sum(len(group["rules"]) for group in groups) > 10
    jobs = json.loads(container.get(port, "/api/v1/status/config"))["data"]["yaml"]
    assert "kubernetes_sd_configs" in jobs  # the cluster's configuration, not the image's example
    page = container.get(port, "/query")  # the web UI, built with npm and embedded at build time
    script = re.search(r'src="\./(assets/index-[^"]+\.js)"', page)
    assert script, page[:500]
    assert "createRoot" in container.get(port, f"/{script.group(1)}")  # the React app itself
    assert "prometheus, version 3.5.0" in container.exec("prometheus", "--version").stdout


def test_alertmanager_loads_the_generated_configuration_and_serves_its_ui(image, run_as_pod, tmp_path):
    container, spec, port, _ = _start(image, run_as_pod, tmp_path, "alertmanager")
    container.get(port, spec["readinessProbe"]["httpGet"]["path"], timeout=60)
    status = json.loads(container.get(port, "/api/v2/status"))
    assert "route" in status["config"]["original"]
    assert "<title>Alertmanager</title>" in container.get(port, "/")


def test_the_pushgateway_accepts_a_push_and_persists_it(image, run_as_pod, tmp_path):
    container, spec, port, volumes = _start(image, run_as_pod, tmp_path, "pushgateway")
    container.get(port, spec["readinessProbe"]["httpGet"]["path"], timeout=60)
    push = urllib.request.Request(
        f"http://127.0.0.1:{container.port(port)}/metrics/job/nightly",
        data=b"mlplat_batch_rows_total 42\n",
        method="PUT",
    )
    with urllib.request.urlopen(push, timeout=10) as answer:
        assert answer.status == 200
    assert 'mlplat_batch_rows_total{instance="",job="nightly"} 42' in container.get(port, "/metrics")
    subprocess.run(["docker", "stop", container.id], capture_output=True, check=True)  # persists on shutdown
    data = next(host for host, path, _ in volumes if path == "/data")
    assert (data / "metrics").stat().st_size > 0
