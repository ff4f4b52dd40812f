"""The kind target: a local kind cluster, deployed with the real `pulumi up`.

    up:     preflight (docker, kind, pulumi, kubectl) -> Docker big enough for the blueprint -> cluster
            (created, or reused) -> the platform image built and loaded -> `pulumi up` with the policy
            pack -> every Deployment available -> the URLs
    down:   `pulumi destroy`, then the cluster deleted
    status: every Deployment and StatefulSet with its ready replicas

Each step is a method over an injected command runner (services/deploy/commands.py), so the tests
check the exact commands, their order and the decisions between them (reuse a cluster that exists,
refuse to start with too little Docker memory) with a fake runner. Running `up` twice is safe: an
existing cluster is reused, the image load replaces the image, and `pulumi up` of an unchanged
blueprint changes nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, NodePorts
from blueprints.quantity import format_bytes
from services.deploy import pulumi_stack
from services.deploy.capacity import KIND_NODE_OVERHEAD, Requests, blueprint_requests, shortfalls
from services.deploy.commands import CommandFailed, Runner, subprocess_runner
from services.deploy.preflight import KIND_TOOLS, check_tools
from services.deploy.target import DeployError, Deployment, Options

__all__ = ["KIND_CONFIG", "KindTarget", "URLS", "kind_config_cluster_name"]

ROOT = Path(__file__).resolve().parents[3]
KIND_CONFIG = ROOT / "infra" / "kind" / "cluster.yaml"
DOCKERFILE = ROOT / "services" / "Dockerfile"

URLS = {
    "MLflow UI": f"http://localhost:{NodePorts.MLFLOW}",
    "Grafana": f"http://localhost:{NodePorts.GRAFANA}",
    "Prometheus": f"http://localhost:{NodePorts.PROMETHEUS}",
    "Serving gateway": f"http://localhost:{NodePorts.GATEWAY}/<tenant>/<model>/v2/health/ready",
}


def kind_config_cluster_name() -> str:
    import yaml

    return yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))["name"]


@dataclass
class KindTarget:
    deployment: Deployment
    options: Options = Options()
    run: Runner = subprocess_runner
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    cluster: str = field(default_factory=kind_config_cluster_name)

    name: ClassVar[str] = "kind"

    @property
    def context(self) -> str:
        return f"kind-{self.cluster}"

    # --- the protocol -----------------------------------------------------------------------------
    def preflight(self) -> list[str]:
        return [str(problem) for problem in check_tools(KIND_TOOLS)]

    def up(self) -> None:
        problems = self.preflight()
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            raise DeployError(
                f"the kind target needs docker, kind, pulumi and kubectl; missing or unusable:\n{lines}\n"
                "Fix the lines above, or run `mlplat up --target standalone` (no Docker needed).",
                code=2,
            )
        self.deploy()

    def deploy(self) -> None:
        """Cluster (created or reused) -> image built and loaded -> `pulumi up` -> wait -> URLs."""
        try:
            requested = blueprint_requests(self.deployment.blueprint_name)
            self.check_docker_memory(requested.memory_bytes)
            self.check_docker_cpus(requested)
            self.ensure_cluster()
            self.build_and_load_image()
            settings = self._settings(blueprint=self.deployment.blueprint_override)
            with pulumi_stack.pulumi_failures(
                "pulumi up", "fix the error above and run `make up` again (it resumes where it stopped)"
            ):
                pulumi_stack.up(settings, self.deployment, self.context, self.deployment.root / "policy")
            self.wait_ready(self.namespaces())
        except CommandFailed as exc:
            raise DeployError(str(exc), code=1) from None
        print("\nThe platform is up:")
        for label, url in URLS.items():
            print(f"  {label:<16} {url}")
        print("\nNext: `kubectl --context kind-mlops get pods -A`, `mlplat cost`, `make down` to tear it all down.")

    def down(self) -> None:
        """`pulumi destroy`, then delete the kind cluster."""
        problems = self.preflight()
        if problems:
            raise DeployError(
                "nothing to tear down: no standalone platform is running and the kind tools are missing", code=2
            )
        try:
            with pulumi_stack.pulumi_failures("pulumi destroy", "fix the error above and run `make down` again"):
                pulumi_stack.destroy(self._settings())
            self.delete_cluster()
        except CommandFailed as exc:
            raise DeployError(str(exc), code=1) from None
        print("kind cluster and stack removed")

    def status(self, as_json: bool = False) -> bool:
        from services.engine.workloads import readiness

        listing = self._must(
            ["kubectl", "--context", self.context, "get", "deployments,statefulsets", "-A", "-o=json"],
            f"is the cluster up? `kind get clusters` should list {self.cluster!r} (`make up` creates it)",
        )
        rows = [readiness(item) for item in json.loads(listing)["items"]]
        if as_json:
            print(json.dumps({"context": self.context, "workloads": rows}, indent=2))
        else:
            print(f"kind cluster {self.cluster} (context {self.context})")
            for row in rows:
                print(f"  {row['namespace']:<18} {row['kind']:<12} {row['name']:<28} {row['ready']}/{row['desired']}")
        return all(row["ready"] >= row["desired"] for row in rows)

    # --- the steps ----------------------------------------------------------------------------------
    def _settings(self, blueprint: str | None = None):
        from infra import automation

        return automation.deploy_settings(self.deployment.stack, kube_context=self.context, blueprint=blueprint)

    def _must(self, command: Sequence[str], advice: str) -> str:
        code, output = self.run(command)
        if code != 0:
            raise CommandFailed(command, output, advice)
        return output

    def check_docker_memory(self, required_bytes: Decimal) -> None:
        """Docker's VM (Desktop) or host must hold the blueprint's requests plus ~1.5 GiB for Kubernetes."""
        output = self._must(["docker", "info", "--format", "{{.MemTotal}}"], "start Docker, then retry")
        total = Decimal(output.strip() or 0)
        needed = required_bytes + KIND_NODE_OVERHEAD
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
        ref = self.deployment.blueprint.platform.image.ref
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
        return [SYSTEM_NAMESPACE, MONITORING_NAMESPACE, *[t.name for t in self.deployment.blueprint.tenants]]

    def delete_cluster(self) -> None:
        self._must(["kind", "delete", "cluster", "--name", self.cluster], "run `kind get clusters` to see what is left")
