"""The kind path, tested without Docker: cluster config, Dockerfile properties, and the deploy steps
driven by a fake command runner (the real run is `make test-kind`, tests/kind/run.py)."""

from __future__ import annotations

import json
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
from services.deploy.commands import CommandFailed
from services.deploy.kind_images import Supply
from services.deploy.target import Deployment
from services.deploy.targets.kind import KIND_CONFIG, KindTarget

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
    kubeadmConfigPatches: list[str] = []
    containerdConfigPatches: list[str] = []


def _config() -> KindCluster:
    return KindCluster.model_validate(yaml.safe_load(KIND_CONFIG.read_text()))


def test_kind_config_is_a_valid_v1alpha4_cluster_with_a_digest_pinned_node_image():
    config = _config()
    assert config.name == "mlops"
    image = config.nodes[0].image
    assert re.fullmatch(r"kindest/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", image)
    assert kubernetes_version() == "1.35.8"


def test_kind_config_lets_kubernetes_1_35s_kubelet_start_on_a_cgroup_v1_host():
    patches = [yaml.safe_load(patch) for patch in _config().kubeadmConfigPatches]
    assert {"kind": "KubeletConfiguration", "failCgroupV1": False} in patches


def test_kind_config_maps_every_platform_ui_to_loopback_only():
    mappings = {m.containerPort: m for m in _config().nodes[0].extraPortMappings}
    for port in (NodePorts.MLFLOW, NodePorts.GRAFANA, NodePorts.PROMETHEUS, NodePorts.GATEWAY, NodePorts.GATEWAY_GRPC):
        assert mappings[port].hostPort == port
        assert mappings[port].listenAddress == "127.0.0.1"


def test_kind_config_lets_containerd_read_a_local_registrys_hosts_file():
    patches = "\n".join(_config().containerdConfigPatches)
    assert 'config_path = "/etc/containerd/certs.d"' in patches


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
@pytest.fixture(autouse=True)
def no_toolchain(tmp_path, monkeypatch):
    """The tools by name, as on a machine where they are on PATH: no toolchain built under this cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-toolchain"))


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


def _deploy(runner) -> KindTarget:
    return KindTarget(Deployment("foundation", load("foundation")), run=runner, log=lambda line: None)


def test_an_existing_cluster_is_reused_not_recreated():
    runner = FakeRunner({"kind get clusters": (0, "other\nmlops\n")})
    assert _deploy(runner).ensure_cluster() is False
    assert runner.commands == [["kind", "get", "clusters"]]


def test_an_absent_cluster_is_created_from_the_pinned_config():
    runner = FakeRunner({"kind get clusters": (0, "No kind clusters found.\n")})
    assert _deploy(runner).ensure_cluster() is True
    assert runner.commands[1] == ["kind", "create", "cluster", "--config", str(KIND_CONFIG), "--wait", "120s"]


def test_image_is_built_from_the_dockerfile_and_loaded_into_the_cluster_under_its_content_tag():
    image_id = "sha256:" + "0123456789ab" + "f" * 52
    runner = FakeRunner({"docker image inspect": (0, image_id)})
    assert _deploy(runner).build_and_load_image() == "0.1.0-0123456789ab"
    build, _inspect, tag, load_cmd = runner.commands
    assert build[:4] == ["docker", "build", "-f", str(ROOT / "services" / "Dockerfile")]
    assert build[5] == "mlops-platform/platform:0.1.0"
    # a rebuilt image gets a new tag, so the pods roll out (a node never pulls a tag it holds again)
    assert tag == ["docker", "tag", "mlops-platform/platform:0.1.0", "mlops-platform/platform:0.1.0-0123456789ab"]
    assert load_cmd == ["kind", "load", "docker-image", "mlops-platform/platform:0.1.0-0123456789ab", "--name", "mlops"]


def test_a_content_tag_deploys_the_platform_image_at_that_tag():
    from infra.render import render_blueprint

    manifests = render_blueprint(
        "foundation", config={"mlops-platform:platformImageTag": "0.1.0-0123456789ab"}
    ).manifests
    images = {
        c["image"] for m in manifests if m["kind"] == "Deployment" for c in m["spec"]["template"]["spec"]["containers"]
    }
    assert "mlops-platform/platform:0.1.0-0123456789ab" in images
    assert "mlops-platform/platform:0.1.0" not in images


def test_too_little_docker_memory_stops_before_anything_is_created():
    runner = FakeRunner({"docker info": (0, str(2 * 2**30))})
    with pytest.raises(CommandFailed, match="give Docker more memory"):
        _deploy(runner).check_docker_memory(Decimal(2 * 2**30))


def test_too_few_docker_cpus_for_the_requests_beside_kinds_own_pods_stop_the_deploy():
    runner = FakeRunner({"docker info": (0, "2")})
    with pytest.raises(CommandFailed, match=r"requests 1\.21 CPU; a 2-CPU node leaves 1\.05.*needs 2\.16 CPUs"):
        _deploy(runner).check_docker_cpus(Requests(Decimal("1.21"), Decimal(2**30)))
    _deploy(FakeRunner({"docker info": (0, "4")})).check_docker_cpus(Requests(Decimal("1.21"), Decimal(2**30)))


WORKLOADS = "kubectl --context kind-mlops get deployments,statefulsets"
MODEL_PODS = "kubectl --context kind-mlops get pods"


def _workloads(*rows: tuple[str, str, str, int, int], component: str = "registry-server") -> str:
    items = [
        {
            "kind": kind,
            "metadata": {"namespace": ns, "name": name},
            "spec": {
                "replicas": desired,
                "template": {"metadata": {"labels": {"app.kubernetes.io/component": component}}},
            },
            "status": {"readyReplicas": ready},
        }
        for kind, ns, name, desired, ready in rows
    ]
    return json.dumps({"items": items})


def _model_pods(ns: str, model: str, started: bool) -> str:
    pod = {
        "metadata": {"namespace": ns, "labels": {"app.kubernetes.io/name": model}},
        "status": {"containerStatuses": [{"name": "model-server", "started": started}]},
    }
    return json.dumps({"items": [pod]})


def test_a_failed_step_says_what_to_do_next():
    workloads = _workloads(("Deployment", "mlops-system", "mlflow", 1, 0))
    runner = FakeRunner({WORKLOADS: (0, workloads), MODEL_PODS: (0, '{"items": []}')})
    with pytest.raises(CommandFailed) as failure:
        _deploy(runner).wait_ready(timeout=0, poll=0)
    assert "kubectl --context kind-mlops get pods -A" in str(failure.value)
    assert "mlops-system/mlflow 0/1" in str(failure.value)


def test_waiting_ends_when_every_deployment_and_statefulset_of_the_platform_is_ready():
    rows = [("Deployment", "mlops-system", "mlflow", 1, 1), ("StatefulSet", "mlops-system", "mlflow-db", 1, 1)]
    other = ("Deployment", "somebody-else", "app", 1, 0)  # not the platform's: not waited for
    runner = FakeRunner({WORKLOADS: (0, _workloads(*rows, other)), MODEL_PODS: (0, '{"items": []}')})
    _deploy(runner).wait_ready(timeout=0, poll=0)
    assert runner.commands[0] == [
        "kubectl",
        "--context",
        "kind-mlops",
        "get",
        "deployments,statefulsets",
        "-A",
        "-o=json",
    ]


@pytest.mark.parametrize(("started", "ends"), [(True, True), (False, False)])
def test_a_model_server_without_a_champion_counts_once_its_container_started(started, ends):
    workloads = _workloads(("Deployment", "data-science", "iris", 1, 0), component="model-server")
    runner = FakeRunner({WORKLOADS: (0, workloads), MODEL_PODS: (0, _model_pods("data-science", "iris", started))})
    lines: list[str] = []
    target = KindTarget(Deployment("foundation", load("foundation")), run=runner, log=lines.append)
    if ends:
        target.wait_ready(timeout=0, poll=0)
        assert "data-science/iris started, waiting for a champion" in lines[-1]
    else:
        with pytest.raises(CommandFailed, match="data-science/iris 0/1"):
            target.wait_ready(timeout=0, poll=0)


def test_wait_covers_platform_and_every_tenant_namespace():
    assert _deploy(FakeRunner()).namespaces() == ["mlops-system", "mlops-monitoring", "data-science"]


def test_mlplat_up_on_kind_runs_preflight_cluster_image_pulumi_and_wait_in_order(monkeypatch, capsys, tmp_path):
    from infra import automation

    calls = []
    monkeypatch.setattr(KindTarget, "check_docker_memory", lambda self, need: calls.append(("memory", need > 0)))
    monkeypatch.setattr(KindTarget, "check_docker_cpus", lambda self, need: calls.append(("cpus", need.cpu_cores > 0)))
    monkeypatch.setattr(KindTarget, "supply", lambda self: calls.append(("images",)) or Supply())
    monkeypatch.setattr(KindTarget, "ensure_cluster", lambda self, node_image: calls.append(("cluster",)) or False)
    monkeypatch.setattr(KindTarget, "build_and_load_image", lambda self: calls.append(("image",)))
    monkeypatch.setattr(KindTarget, "wait_ready", lambda self: calls.append(("wait", tuple(self.namespaces()))))
    monkeypatch.setattr(
        automation, "up", lambda settings, on_output, gate: calls.append(("pulumi up", settings.config, gate))
    )
    KindTarget(Deployment("foundation", load("foundation"), root=tmp_path)).deploy()
    assert [c[0] for c in calls] == ["memory", "cpus", "images", "cluster", "image", "pulumi up", "wait"]
    assert calls[0] == ("memory", True) and calls[1] == ("cpus", True)
    assert calls[5][1] == {"mlops-platform:kubeContext": "kind-mlops", "mlops-platform:blueprint": "foundation"}
    assert calls[5][2].pack.is_file() and calls[5][2].config.is_file()  # the deploy-time pack gates the update
    assert calls[6][1] == ("mlops-system", "mlops-monitoring", "data-science")
    assert "http://localhost:30500" in capsys.readouterr().out


# --- the image supply: pulled where a registry answers, built here and mirrored where none does ----
def test_the_node_image_already_here_means_nothing_is_pulled_or_built():
    from services.deploy.kind_images import ImageSupply

    runner = FakeRunner({"docker image inspect": (0, "[]")})
    assert ImageSupply("foundation", runner, log=lambda line: None).can_pull()
    assert [c[:3] for c in runner.commands] == [["docker", "image", "inspect"]]


def test_a_node_image_no_registry_serves_means_building_here():
    from services.deploy.kind_images import ImageSupply

    lines: list[str] = []
    runner = FakeRunner({"docker image inspect": (1, ""), "docker pull": (1, "dial tcp: lookup registry-1.docker.io")})
    assert not ImageSupply("foundation", runner, log=lines.append).can_pull()
    assert runner.commands[1][:2] == ["docker", "pull"]
    assert "cannot pull kindest/node:v1.35.8" in lines[0] and "registry-1.docker.io" in lines[0]


def test_the_nodes_are_pointed_at_the_local_registry_as_kinds_guide_does(monkeypatch):
    from services.deploy.kind_images import ImageSupply
    from services.images import registry

    monkeypatch.setattr(registry, "connect_to_kind", lambda log=None: True)
    runner = FakeRunner({"kind get nodes": (0, "mlops-control-plane\n")})
    ImageSupply("foundation", runner, log=lambda line: None).point_nodes_at_registry("mlops")
    folder = "/etc/containerd/certs.d/localhost:5001"
    assert ["docker", "exec", "mlops-control-plane", "mkdir", "-p", folder] in runner.commands
    writes = [c for c in runner.commands if c[:3] == ["docker", "exec", "mlops-control-plane"] and c[3] == "sh"]
    assert writes and '[host."http://kind-registry:5000"]' in writes[0][-1] and f"{folder}/hosts.toml" in writes[0][-1]
    assert runner.commands[-1][:4] == ["kubectl", "--context", "kind-mlops", "apply"]  # local-registry-hosting


def test_offline_the_cluster_boots_the_node_image_built_here_and_deploys_through_the_mirror(monkeypatch, tmp_path):
    from infra import automation

    calls = []
    offline = Supply(node_image="mlops-platform/kind-node:v1.35.8", mirror="localhost:5001", left_out={"grafana": "x"})
    monkeypatch.setattr(KindTarget, "check_docker_memory", lambda self, need: None)
    monkeypatch.setattr(KindTarget, "check_docker_cpus", lambda self, need: None)
    monkeypatch.setattr(KindTarget, "supply", lambda self: offline)
    monkeypatch.setattr(KindTarget, "ensure_cluster", lambda self, node_image: calls.append(("cluster", node_image)))
    monkeypatch.setattr(KindTarget, "build_and_load_image", lambda self: calls.append(("kind load",)))
    monkeypatch.setattr(
        "services.deploy.kind_images.ImageSupply.point_nodes_at_registry", lambda self, c: calls.append(("hosts", c))
    )
    monkeypatch.setattr(KindTarget, "wait_ready", lambda self: calls.append(("wait",)))
    monkeypatch.setattr(
        automation, "up", lambda settings, on_output, gate: calls.append(("pulumi up", settings.config, gate))
    )
    KindTarget(Deployment("foundation", load("foundation"), root=tmp_path)).deploy()
    assert [c[0] for c in calls] == ["cluster", "hosts", "pulumi up", "wait"]  # nothing loaded: the mirror serves
    assert calls[0][1] == "mlops-platform/kind-node:v1.35.8"
    config = calls[2][1]
    assert config["mlops-platform:imageMirror"] == "localhost:5001" and config["mlops-platform:grafana"] == "false"
    policy = json.loads(calls[2][2].config.read_text())
    assert "localhost:5001" in json.dumps(policy)  # the deploy-time gate allows the mirror
