"""kube-state-metrics and metrics-server, built from their Go modules: the binaries run as their pods'
users on a read-only root and report the pinned versions. (Serving needs a Kubernetes API, which only
the kind layer's cluster has; there the Deployments' probes check them.)"""

from __future__ import annotations

from infra import images as pins
from tests.infra.conftest import find, rendered


def test_kube_state_metrics_runs_as_65534_and_is_the_pinned_release(image, run_as_pod):
    done = run_as_pod(
        image("kube-state-metrics"),
        pins.PROMETHEUS_UID,
        entrypoint="/kube-state-metrics",
        args=["version"],
        detach=False,
    )
    assert done.returncode == 0 and "v2.15.0" in done.stdout + done.stderr, done.stderr


def test_metrics_server_runs_as_its_pods_user_with_its_flags(image, run_as_pod):
    deployment = find(rendered("foundation").manifests, "Deployment", "metrics-server", "kube-system")
    pod = deployment["spec"]["template"]["spec"]
    done = run_as_pod(
        image("metrics-server"),
        pod["securityContext"]["runAsUser"],
        args=[*pod["containers"][0]["args"], "--help"],
        scratch=("/tmp",),
        detach=False,
    )
    assert done.returncode == 0 and "--kubelet-use-node-status-port" in done.stdout + done.stderr, done.stderr
