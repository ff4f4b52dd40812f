"""The kind target: cluster, image, deploy, wait, print the URLs.

Each step is a method over an injected command runner, so the tests check the exact commands,
their order and the decisions between them (reuse a cluster that exists, refuse to start with too
little Docker memory) with a fake runner; the real run happens in users' CI
(.github/workflows/e2e-kind.yml). Pulumi itself is driven through the Automation API
(`infra/automation.py`), never by parsing CLI output.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, NodePorts
from blueprints.quantity import format_bytes
from blueprints.schema import Blueprint
from services.deploy.capacity import Requests, shortfalls

__all__ = ["KindDeploy", "Runner", "CommandFailed", "subprocess_runner", "kind_config_cluster_name", "URLS"]

ROOT = Path(__file__).resolve().parents[2]
KIND_CONFIG = ROOT / "infra" / "kind" / "cluster.yaml"
DOCKERFILE = ROOT / "services" / "Dockerfile"

URLS = {
    "MLflow UI": f"http://localhost:{NodePorts.MLFLOW}",
    "Grafana": f"http://localhost:{NodePorts.GRAFANA}",
    "Prometheus": f"http://localhost:{NodePorts.PROMETHEUS}",
    "Serving gateway": f"http://localhost:{NodePorts.GATEWAY}/<tenant>/<model>/v2/health/ready",
}


class CommandFailed(RuntimeError):
    def __init__(self, command: Sequence[str], output: str, advice: str):
        self.command, self.output, self.advice = list(command), output, advice
        tail = "\n".join(output.strip().splitlines()[-5:])
        super().__init__(f"`{' '.join(command)}` failed:\n{tail}\n-> {advice}")


# A runner takes a command and returns (exit code, combined output).
Runner = Callable[[Sequence[str]], tuple[int, str]]


def subprocess_runner(command: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(list(command), capture_output=True, text=True, check=False, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def kind_config_cluster_name() -> str:
    import yaml

    return yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))["name"]


@dataclass
class KindDeploy:
    blueprint: Blueprint
    run: Runner = subprocess_runner
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    cluster: str = field(default_factory=kind_config_cluster_name)

    @property
    def context(self) -> str:
        return f"kind-{self.cluster}"

    def _must(self, command: Sequence[str], advice: str) -> str:
        code, output = self.run(command)
        if code != 0:
            raise CommandFailed(command, output, advice)
        return output

    def check_docker_memory(self, required_bytes: Decimal) -> None:
        """Docker's VM (Desktop) or host must hold the blueprint's requests plus ~1.5 GiB for Kubernetes."""
        output = self._must(["docker", "info", "--format", "{{.MemTotal}}"], "start Docker, then retry")
        total = Decimal(output.strip() or 0)
        needed = required_bytes + Decimal(3 * 2**29)
        if total < needed:
            raise CommandFailed(
                ["docker", "info"],
                f"Docker has {format_bytes(total)} of memory",
                f"the blueprint needs about {format_bytes(needed)} (its requests plus ~1.5 GiB for the kind node); "
                "give Docker more memory (Docker Desktop: Settings > Resources) or deploy a smaller blueprint "
                "(pulumi config set blueprint foundation)",
            )

    def check_docker_cpus(self, requested: Requests) -> None:
        """The node gets Docker's CPUs; the blueprint's CPU requests must fit beside kind's own pods."""
        output = self._must(["docker", "info", "--format", "{{.NCPU}}"], "start Docker, then retry")
        problems = shortfalls(requested, Decimal(output.strip() or 0))
        if problems:
            raise CommandFailed(
                ["docker", "info"],
                problems[0],
                "give Docker more CPUs (Docker Desktop: Settings > Resources) or deploy a smaller blueprint "
                "(pulumi config set blueprint foundation); otherwise pods stay Pending",
            )

    def ensure_cluster(self) -> bool:
        """Create the cluster unless it exists; True when it was created."""
        clusters = self._must(["kind", "get", "clusters"], "check that kind and Docker work: `kind get clusters`")
        if self.cluster in clusters.split():
            self.log(f"kind cluster {self.cluster!r} exists: reusing it")
            return False
        self.log(f"creating kind cluster {self.cluster!r} (about a minute)...")
        self._must(
            ["kind", "create", "cluster", "--config", str(KIND_CONFIG), "--wait", "120s"],
            "if a port is busy, free 30080/30090/30300/30500 on 127.0.0.1; see docs/kind.md#troubleshooting",
        )
        return True

    def build_and_load_image(self) -> None:
        ref = self.blueprint.platform.image.ref
        self.log(f"building the platform image {ref} (first build takes a few minutes)...")
        self._must(
            ["docker", "build", "-f", str(DOCKERFILE), "-t", ref, str(ROOT)],
            "read the build output above; `docker build -f services/Dockerfile .` reproduces it",
        )
        self.log(f"loading {ref} into the kind node...")
        self._must(
            ["kind", "load", "docker-image", ref, "--name", self.cluster],
            "the image must exist locally: `docker images mlops-platform/platform`",
        )

    def wait_ready(self, namespaces: Sequence[str], timeout: str = "600s") -> None:
        for ns in namespaces:
            self.log(f"waiting for Deployments in {ns} to become available...")
            self._must(
                [
                    "kubectl",
                    "--context",
                    self.context,
                    "-n",
                    ns,
                    "wait",
                    "--for=condition=Available",
                    "deployment",
                    "--all",
                    f"--timeout={timeout}",
                ],
                f"inspect the pods: `kubectl --context {self.context} -n {ns} get pods` and "
                f"`kubectl --context {self.context} -n {ns} describe pod <name>`; see docs/kind.md#troubleshooting",
            )

    def namespaces(self) -> list[str]:
        return [SYSTEM_NAMESPACE, MONITORING_NAMESPACE, *[t.name for t in self.blueprint.tenants]]

    def delete_cluster(self) -> None:
        self._must(["kind", "delete", "cluster", "--name", self.cluster], "run `kind get clusters` to see what is left")
