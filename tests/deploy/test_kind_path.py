"""The kind path, tested without Docker: cluster config, Dockerfile properties, and the deploy steps
driven by a fake command runner (the real run is .github/workflows/e2e-kind.yml)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from blueprints import load
from blueprints.naming import NodePorts
from infra.versions import kubernetes_version
from services.deploy.capacity import Requests
from services.deploy.kind import KIND_CONFIG, CommandFailed, KindDeploy

ROOT = Path(__file__).resolve().parents[2]


# --- kind's v1alpha4 Cluster config, the fields of sigs.k8s.io/kind/pkg/apis/config/v1alpha4 we use ---
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortMapping(_Strict):
    containerPort: int = Field(ge=1, le=65535)
    hostPort: int = Field(ge=0, le=65535)
    listenAddress: str = "0.0.0.0"
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"


class Node(_Strict):
    role: Literal["control-plane", "worker"]
    image: str | None = None
    extraPortMappings: list[PortMapping] = []
    labels: dict[str, str] = {}
    kubeadmConfigPatches: list[str] = []


class Networking(_Strict):
    disableDefaultCNI: bool = False
    ipFamily: Literal["ipv4", "ipv6", "dual"] = "ipv4"
    kubeProxyMode: Literal["iptables", "ipvs", "nftables", "none"] = "iptables"
    podSubnet: str | None = None
    serviceSubnet: str | None = None


class KindCluster(_Strict):
    kind: Literal["Cluster"]
    apiVersion: Literal["kind.x-k8s.io/v1alpha4"]
    name: str
    nodes: list[Node]
    networking: Networking = Networking()
    featureGates: dict[str, bool] = {}


def _config() -> KindCluster:
    return KindCluster.model_validate(yaml.safe_load(KIND_CONFIG.read_text()))


def test_kind_config_is_a_valid_v1alpha4_cluster_with_a_digest_pinned_node_image():
    config = _config()
    assert config.name == "mlops"
    image = config.nodes[0].image
    assert re.fullmatch(r"kindest/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", image)
    assert kubernetes_version() == "1.35.8"


def test_kind_config_maps_every_platform_ui_to_loopback_only():
    mappings = {m.containerPort: m for m in _config().nodes[0].extraPortMappings}
    for port in (NodePorts.MLFLOW, NodePorts.GRAFANA, NodePorts.PROMETHEUS, NodePorts.GATEWAY, NodePorts.GATEWAY_GRPC):
        assert mappings[port].hostPort == port
        assert mappings[port].listenAddress == "127.0.0.1"


def test_kind_config_keeps_the_default_cni_that_enforces_networkpolicy():
    assert _config().networking.disableDefaultCNI is False


# --- the Dockerfile -------------------------------------------------------------------------------
DOCKERFILE = (ROOT / "services" / "Dockerfile").read_text()


def test_dockerfile_base_image_is_pinned_to_a_full_version():
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert bases and re.search(r":3\.11\.\d+-slim", bases[0]), bases
    assert "latest" not in bases[0]
    assert all(line.split()[1] in ("${PYTHON_IMAGE}",) for line in DOCKERFILE.splitlines() if line.startswith("FROM "))


def test_dockerfile_runs_as_a_numeric_non_root_user():
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"


def test_dockerfile_installs_with_the_pinned_constraints_and_bakes_in_no_secrets():
    assert "--constraint constraints.txt" in DOCKERFILE
    assert not re.search(r"(PASSWORD|TOKEN|SECRET|API_KEY)\s*=", DOCKERFILE, re.I)
    assert not re.search(r"^(COPY|ADD) .*\.(pem|key|env)\b", DOCKERFILE, re.M)


def test_dockerfile_user_matches_the_uid_the_pods_run_as():
    from infra import images

    assert f"USER {images.PLATFORM_UID}:{images.PLATFORM_UID}" in DOCKERFILE


# --- the deploy steps, with a fake runner --------------------------------------------------------
class FakeRunner:
    def __init__(self, responses: dict[str, tuple[int, str]] | None = None):
        self.commands: list[list[str]] = []
        self.responses = responses or {}

    def __call__(self, command):
        self.commands.append(list(command))
        joined = " ".join(command)
        for prefix, response in self.responses.items():
            if joined.startswith(prefix):
                return response
        return 0, ""


def _deploy(runner) -> KindDeploy:
    return KindDeploy(load("foundation"), run=runner, log=lambda line: None)


def test_an_existing_cluster_is_reused_not_recreated():
    runner = FakeRunner({"kind get clusters": (0, "other\nmlops\n")})
    assert _deploy(runner).ensure_cluster() is False
    assert runner.commands == [["kind", "get", "clusters"]]


def test_an_absent_cluster_is_created_from_the_pinned_config():
    runner = FakeRunner({"kind get clusters": (0, "No kind clusters found.\n")})
    assert _deploy(runner).ensure_cluster() is True
    assert runner.commands[1] == ["kind", "create", "cluster", "--config", str(KIND_CONFIG), "--wait", "120s"]


def test_image_is_built_from_the_dockerfile_and_loaded_into_the_cluster():
    runner = FakeRunner()
    _deploy(runner).build_and_load_image()
    build, load_cmd = runner.commands
    assert build[:4] == ["docker", "build", "-f", str(ROOT / "services" / "Dockerfile")]
    assert build[5] == "mlops-platform/platform:0.1.0"
    assert load_cmd == ["kind", "load", "docker-image", "mlops-platform/platform:0.1.0", "--name", "mlops"]


def test_too_little_docker_memory_stops_before_anything_is_created():
    runner = FakeRunner({"docker info": (0, str(2 * 2**30))})
    with pytest.raises(CommandFailed, match="give Docker more memory"):
        _deploy(runner).check_docker_memory(Decimal(2 * 2**30))


def test_too_few_docker_cpus_for_the_requests_beside_kinds_own_pods_stop_the_deploy():
    runner = FakeRunner({"docker info": (0, "2")})
    with pytest.raises(CommandFailed, match=r"requests 1\.21 CPU; a 2-CPU node leaves 1\.05.*needs 2\.16 CPUs"):
        _deploy(runner).check_docker_cpus(Requests(Decimal("1.21"), Decimal(2**30)))
    _deploy(FakeRunner({"docker info": (0, "4")})).check_docker_cpus(Requests(Decimal("1.21"), Decimal(2**30)))


def test_a_failed_step_says_what_to_do_next():
    runner = FakeRunner({"kubectl": (1, "error: timed out waiting for the condition")})
    with pytest.raises(CommandFailed) as failure:
        _deploy(runner).wait_ready(["data-science"])
    assert "kubectl --context kind-mlops -n data-science get pods" in str(failure.value)
    assert "timed out waiting" in str(failure.value)


def test_wait_covers_platform_and_every_tenant_namespace():
    assert _deploy(FakeRunner()).namespaces() == ["mlops-system", "mlops-monitoring", "data-science"]


def test_mlplat_up_on_kind_runs_preflight_cluster_image_pulumi_and_wait_in_order(monkeypatch, capsys, tmp_path):
    import argparse

    from infra import automation
    from services.cli import up_cmd

    calls = []
    monkeypatch.setattr(KindDeploy, "check_docker_memory", lambda self, need: calls.append(("memory", need > 0)))
    monkeypatch.setattr(KindDeploy, "check_docker_cpus", lambda self, need: calls.append(("cpus", need.cpu_cores > 0)))
    monkeypatch.setattr(KindDeploy, "ensure_cluster", lambda self: calls.append(("cluster",)) or False)
    monkeypatch.setattr(KindDeploy, "build_and_load_image", lambda self: calls.append(("image",)))
    monkeypatch.setattr(KindDeploy, "wait_ready", lambda self, ns: calls.append(("wait", tuple(ns))))
    monkeypatch.setattr(
        automation, "up", lambda settings, on_output, gate: calls.append(("pulumi up", settings.config, gate))
    )
    args = argparse.Namespace(blueprint="foundation", stack="dev", target="kind", root=tmp_path)
    assert up_cmd.kind_up(args) == 0
    assert [c[0] for c in calls] == ["memory", "cpus", "cluster", "image", "pulumi up", "wait"]
    assert calls[0] == ("memory", True) and calls[1] == ("cpus", True)
    assert calls[4][1] == {"mlops-platform:kubeContext": "kind-mlops", "mlops-platform:blueprint": "foundation"}
    assert calls[4][2].pack.is_file() and calls[4][2].config.is_file()  # the deploy-time pack gates the update
    assert calls[5][1] == ("mlops-system", "mlops-monitoring", "data-science")
    assert "http://localhost:30500" in capsys.readouterr().out
