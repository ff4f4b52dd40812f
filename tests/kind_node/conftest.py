"""The kind layer's fixtures: the node image built here, and one real kind cluster booted from it.

These tests run only under `make test-kind`, which sets MLPLAT_KIND_TESTS=1; plain `make test` collects
nothing here (they need Docker, Go, debootstrap and about 25 minutes cold). The session builds the node
image (cached: a second build is a label lookup), the kind CLI and agnhost (Kubernetes' e2e test server,
the image of every test pod, built FROM scratch here and put into the node with `kind load`), then runs
`kind create cluster` with the repository's own infra/kind/cluster.yaml and the image built here. The
cluster has a name and kubeconfig of its own, so a user's `mlops` cluster and ~/.kube/config are never
touched, and it is deleted in the fixture's finaliser even when a test fails.

What the run measured (build steps, the warm build, cluster creation, the node's memory, the caches' disk)
is printed after the tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.engine import toolchain
from services.images import node, node_archive

if os.environ.get("MLPLAT_KIND_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]  # `make test-kind` sets it; see the docstring

CLUSTER = "mlops-kind-node-test"
CLUSTER_CONFIG = toolchain.ROOT / "infra" / "kind" / "cluster.yaml"
REPORT: dict[str, object] = {}


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # pytest then runs the finalisers: a CI timeout still deletes the cluster


signal.signal(signal.SIGTERM, _interrupt)


class CommandFailed(AssertionError):
    def __init__(self, argv: list[str], completed: subprocess.CompletedProcess):
        super().__init__(f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stdout}{completed.stderr}")
        self.output = completed.stdout + completed.stderr


def run(*argv: str, input: str | None = None, timeout: float = 600, check: bool = True) -> str:
    completed = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, check=False)
    if check and completed.returncode != 0:
        raise CommandFailed(list(argv), completed)
    return completed.stdout


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path
    bin_dir: Path
    agnhost: str  # the test pods' image

    @property
    def node_container(self) -> str:
        return f"{self.name}-control-plane"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 180) -> str:
        argv = (str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", f"--context=kind-{self.name}")
        return run(*argv, *args, input=input, check=check, timeout=timeout)

    def on_node(self, *argv: str) -> str:
        return run("docker", "exec", self.node_container, *argv)


def _seconds(call) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def _agnhost_image(bin_dir: Path, work: Path) -> str:
    """agnhost FROM scratch, loaded into the local Docker (kind load takes it from there)."""
    version = (toolchain.module_dir("kubernetes") / "test" / "images" / "agnhost" / "VERSION").read_text().strip()
    ref = f"mlops-platform/agnhost:{version}"
    if run("docker", "image", "ls", "-q", ref).strip():
        return ref
    layer = node_archive.layer_from_files({"/agnhost": (bin_dir / "agnhost", 0o755)}, work / "agnhost-layer.tar")
    archive = node_archive.write_archive(
        node_archive.ImageSpec(ref, (layer,), entrypoint=("/agnhost",)), work / "a.tar"
    )
    run("docker", "load", "-i", str(archive))
    return ref


def _disk(path: Path) -> str:
    return run("du", "-sh", str(path)).split()[0] if path.exists() else "absent"


@pytest.fixture(scope="session")
def node_image() -> node.NodeImage:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("the kind layer needs a running Docker engine (`docker info` fails)", pytrace=False)
    try:
        image, seconds = _seconds(node.build_node_image)
        REPORT["node image"] = f"{image.how} in {seconds:.0f}s " + (
            "(" + ", ".join(f"{step} {s:.0f}s" for step, s in image.seconds.items()) + ")" if image.seconds else ""
        )
        again, warm = _seconds(node.build_node_image)
    except toolchain.ToolchainError as exc:
        pytest.fail(f"building the node image failed: {exc}", pytrace=False)
    assert (again.how, again.inputs) == ("cached", image.inputs)
    REPORT["node image, warm"] = f"{again.how} in {warm:.1f}s"
    return image


def _require_privileged_containers(image: str) -> None:
    """kind's nodes are privileged containers; some sandboxed Dockers cannot start one. Say so plainly."""
    tried = subprocess.run(
        ["docker", "run", "--rm", "--privileged", "--entrypoint", "/bin/true", image], capture_output=True, text=True
    )
    if tried.returncode != 0:
        pytest.fail(
            f"this Docker cannot start a privileged container, so kind cannot run here: {tried.stderr.strip()}\n"
            "-> if it says 'unable to apply caps', register tests/kind_node/runc_bounded.py as Docker's runtime "
            "(docs/kind-node.md, 'A Docker that cannot start privileged containers')",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def cluster(node_image, tmp_path_factory) -> Cluster:
    _require_privileged_containers(node_image.ref)
    toolchain.build(["kind-tools", "kind-test"])
    bin_dir = toolchain.bin_dir()
    work = tmp_path_factory.mktemp("kind")
    agnhost = _agnhost_image(bin_dir, work)
    kubeconfig = work / "kubeconfig"
    kind = str(bin_dir / "kind")
    run(kind, "delete", "cluster", "--name", CLUSTER, "--kubeconfig", str(kubeconfig), check=False)
    try:
        _, created = _seconds(
            lambda: run(
                kind, "create", "cluster", "--name", CLUSTER, "--config", str(CLUSTER_CONFIG),
                "--image", node_image.ref, "--kubeconfig", str(kubeconfig), "--wait", "5m", "--retain",
                timeout=900,
            )
        )  # fmt: skip
        REPORT["kind create cluster"] = f"{created:.0f}s"
        booted = Cluster(CLUSTER, kubeconfig, bin_dir, agnhost)
        booted.kubectl(
            "wait", "-n", "kube-system", "--for=condition=Ready", "pods", "--all", "--timeout=300s", timeout=330
        )
        REPORT["node memory after boot"] = _node_memory()
        run(kind, "load", "docker-image", agnhost, "--name", CLUSTER)
        yield booted
    finally:
        REPORT["node memory after the tests"] = _node_memory()
        _measure_disk()
        run(kind, "delete", "cluster", "--name", CLUSTER, "--kubeconfig", str(kubeconfig), check=False)


def _node_memory() -> str:
    stats = run("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", f"{CLUSTER}-control-plane", check=False)
    return stats.strip() or "no node container"


def _measure_disk() -> None:
    images = run("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}", "mlops-platform/kind-node*")
    REPORT["images"] = "; ".join(images.split("\n")).strip("; ")
    cache = toolchain.cache_root()
    REPORT["disk: toolchain cache"] = _disk(cache)
    REPORT["disk: node image cache"] = _disk(node.cache_dir())


def pytest_terminal_summary(terminalreporter) -> None:
    if REPORT:
        terminalreporter.write_sep("-", "kind layer: measured")
        for name, value in REPORT.items():
            terminalreporter.write_line(f"{name:<28} {value}")
