"""The nginx image (Debian's packages) keeps nginx-unprivileged's interface: UID 101, port 8080, /tmp."""

from __future__ import annotations

from infra import images as pins
from tests.images.conftest import handed_over
from tests.infra.conftest import find, rendered

UID = pins.GATEWAY_UID


def test_the_default_configuration_serves_on_8080_as_101_on_a_read_only_root(image, run_as_pod):
    container = run_as_pod(image("gateway"), UID, scratch=("/tmp",), ports=(8080,))
    assert "Welcome to nginx!" in container.get(8080, "/")
    assert "configuration complete; ready for start up" in container.logs()
    user = container.exec("sh", "-c", "ps -o user= -C nginx 2>/dev/null || id -u")
    assert "root" not in user.stdout


def test_the_gateway_deployment_starts_with_its_rendered_configuration(image, run_as_pod, tmp_path):
    manifests = rendered("multi-tenant").manifests
    deployment = find(manifests, "Deployment", "gateway", "mlops-system")
    container_spec = deployment["spec"]["template"]["spec"]["containers"][0]
    config = find(manifests, "ConfigMap", "gateway-config", "mlops-system")["data"]
    port = container_spec["ports"][0]["containerPort"]
    container = run_as_pod(
        image("gateway"),
        UID,
        args=container_spec["args"],
        volumes=[(handed_over(tmp_path / "config", config), "/etc/gateway", True)],
        scratch=("/tmp",),
        ports=(port,),
        # nginx resolves its `resolver` host when it reads the configuration: outside the cluster, say where.
        extra=["--add-host", "kube-dns.kube-system.svc.cluster.local:127.0.0.1"],
    )
    assert container.get(port, container_spec["readinessProbe"]["httpGet"]["path"]) == "ok"
