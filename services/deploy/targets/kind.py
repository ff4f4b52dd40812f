"""The kind target: a local kind cluster, deployed with the real `pulumi up`.

    up:     preflight (docker; kind, pulumi and kubectl on PATH or built by `make toolchain`) -> Docker big
            enough for the blueprint -> the images: pulled, or built here and served by a local registry
            (services/deploy/kind_images.py) -> cluster (created, or reused) -> `pulumi up` with the
            policy pack -> every Deployment and StatefulSet ready -> the URLs
    down:   `pulumi destroy`, then the cluster deleted, then the local registry (unless kept)
    status: every Deployment and StatefulSet with its ready replicas

The same code runs on a laptop with internet and on a machine that reaches no image registry: only the
image supply differs, and it says which one it took.

Each step is a method over an injected command runner (services/deploy/commands.py), so the tests
check the exact commands, their order and the decisions between them (reuse a cluster that exists,
refuse to start with too little Docker memory) with a fake runner. Running `up` twice is safe: an
existing cluster is reused, the image load replaces the image, and `pulumi up` of an unchanged
blueprint changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, NodePorts
from blueprints.quantity import format_bytes
from services.deploy import pulumi_stack, tools
from services.deploy.capacity import KIND_NODE_OVERHEAD, Requests, blueprint_requests, shortfalls
from services.deploy.commands import CommandFailed, Runner, subprocess_runner
from services.deploy.kind_images import ImageSupply, Supply
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
        return [str(problem) for problem in check_tools(KIND_TOOLS, which=tools.which)]

    def tool(self, name: str) -> str:
        return tools.tool(name)

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
        """Images -> cluster (created or reused) -> `pulumi up` -> every workload ready -> URLs."""
        try:
            requested = blueprint_requests(self.deployment.blueprint_name)
            self.check_docker_memory(requested.memory_bytes)
            self.check_docker_cpus(requested)
            supply = self.supply()
            self.ensure_cluster(node_image=supply.node_image)
            if supply.mirror:
                self.images.point_nodes_at_registry(self.cluster)
            else:
                supply = dataclasses.replace(supply, platform_tag=self.build_and_load_image())
            deployment = self.deployment
            if supply.mirror:  # the gate allows the mirror, as the program does (Blueprint.under_mirror)
                deployment = dataclasses.replace(deployment, blueprint=deployment.blueprint.under_mirror(supply.mirror))
            with pulumi_stack.pulumi_failures(
                "pulumi up", "fix the error above and run `make up` again (it resumes where it stopped)"
            ):
                pulumi_stack.up(self._settings(supply), deployment, self.context, deployment.root.resolve() / "policy")
            self.wait_ready()
        except CommandFailed as exc:
            raise DeployError(str(exc), code=1) from None
        print("\nThe platform is up:")
        for label, url in URLS.items():
            if label != "Grafana" or "grafana" not in supply.left_out:
                print(f"  {label:<16} {url}")
        for component, why in supply.left_out.items():
            print(f"  {component:<16} left out: {why}")
        print(
            f"\nNext: `kubectl --context {self.context} get pods -A`, `mlplat demo`, `make down` to tear it all down."
        )

    @property
    def images(self) -> ImageSupply:
        return ImageSupply(
            self.deployment.blueprint_name, self.run, self.log, kind=self.tool("kind"), kubectl=self.tool("kubectl")
        )

    def supply(self) -> Supply:
        """Pull what can be pulled; where nothing can, build everything here and serve it from a local registry."""
        if self.images.can_pull():
            return Supply()
        from services.engine.toolchain import ModuleUnavailable, ToolchainError
        from services.images.build import BuildError
        from services.images.docker import DockerError
        from services.images.registry import RegistryError
        from services.images.rootfs import RootfsError

        try:
            return self.images.build_here()
        except (ModuleUnavailable, ToolchainError, BuildError, DockerError, RegistryError, RootfsError) as exc:
            # each names the step, the module or the log to read
            from services.images.trust import ENV_VAR

            hint = (
                ""
                if os.environ.get(ENV_VAR)
                else (
                    f"\n-> if this machine reaches package registries through a TLS-inspecting proxy, give the builds "
                    f"its CA: {ENV_VAR}=<a PEM file, or the system bundle that includes it> (docs/air-gapped.md)"
                )
            )
            raise DeployError(f"building the images failed: {exc}{hint}", code=1) from None

    def down(self) -> None:
        """`pulumi destroy`, then delete the kind cluster."""
        problems = self.preflight()
        if problems:
            raise DeployError(
                "nothing to tear down: no standalone platform is running and the kind tools are missing", code=2
            )
        try:
            if (
                self.cluster
                in self._must([self.tool("kind"), "get", "clusters"], "check kind: `kind get clusters`").split()
            ):
                with pulumi_stack.pulumi_failures("pulumi destroy", "fix the error above and run `make down` again"):
                    pulumi_stack.destroy(self._settings(Supply()))
                self.delete_cluster()
            if not self.options.keep_registry:
                self.remove_registry()
        except CommandFailed as exc:
            raise DeployError(str(exc), code=1) from None
        print("kind cluster and stack removed" + ("" if self.options.keep_registry else ", and the local registry"))

    def status(self, as_json: bool = False) -> bool:
        from services.engine.workloads import readiness

        rows = [readiness(item) for item in self._workloads()]
        if as_json:
            print(json.dumps({"context": self.context, "workloads": rows}, indent=2))
        else:
            print(f"kind cluster {self.cluster} (context {self.context})")
            for row in rows:
                print(f"  {row['namespace']:<18} {row['kind']:<12} {row['name']:<28} {row['ready']}/{row['desired']}")
        return all(row["ready"] >= row["desired"] for row in rows)

    # --- the steps ----------------------------------------------------------------------------------
    def _settings(self, supply: Supply):
        """The stack's settings. Its config lives in `.mlplat/kind/` (never in the tracked Pulumi.<stack>.yaml,
        which only selects the blueprint); the toolchain's Pulumi runs when none is on PATH."""
        from infra import automation

        pulumi = None
        if shutil.which("pulumi") is None and tools.which("pulumi"):
            from services.engine.toolchain import bin_dir, pulumi_install

            pulumi = pulumi_install(bin_dir())
        root = self.deployment.root.resolve()
        (root / "kind").mkdir(parents=True, exist_ok=True)
        return automation.deploy_settings(
            self.deployment.stack,
            kube_context=self.context,
            blueprint=self.deployment.blueprint_name,
            image_mirror=supply.mirror,
            platform_image_tag=supply.platform_tag,
            grafana="grafana" not in supply.left_out,
            state_dir=root,
            work_dir=root / "kind",
            pulumi=pulumi,
        )

    def _workloads(self) -> list[dict]:
        listing = self._must(
            [self.tool("kubectl"), "--context", self.context, "get", "deployments,statefulsets", "-A", "-o=json"],
            f"is the cluster up? `kind get clusters` should list {self.cluster!r} (`make up` creates it)",
        )
        return json.loads(listing)["items"]

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

    def ensure_cluster(self, node_image: str | None = None) -> bool:
        """Create the cluster unless it exists; True when it was created. `node_image` replaces the pinned one."""
        kind = self.tool("kind")
        clusters = self._must([kind, "get", "clusters"], "check that kind and Docker work: `kind get clusters`")
        if self.cluster in clusters.split():
            self.log(f"kind cluster {self.cluster!r} exists: reusing it")
            return False
        self.log(f"creating kind cluster {self.cluster!r} (about a minute)...")
        image = ["--image", node_image] if node_image else []
        self._must(
            [kind, "create", "cluster", "--config", str(KIND_CONFIG), *image, "--wait", "120s"],
            "if a port is busy, free 30080/30090/30300/30500 on 127.0.0.1; see docs/kind.md#troubleshooting",
        )
        return True

    def build_and_load_image(self) -> str:
        """Build the platform image, tag it with its content (`content_tag`), load that into the node; the tag."""
        from services.deploy.kind_images import content_tag

        ref = self.deployment.blueprint.platform.image.ref
        self.log(f"building the platform image {ref} (first build takes a few minutes)...")
        self._must(
            ["docker", "build", "-f", str(DOCKERFILE), "-t", ref, str(ROOT)],
            "read the build output above; `docker build -f services/Dockerfile .` reproduces it",
        )
        tag = content_tag(self.run, ref)
        tagged = f"{ref.rpartition(':')[0]}:{tag}"
        self._must(
            ["docker", "tag", ref, tagged], "the image must exist locally: `docker images mlops-platform/platform`"
        )
        self.log(f"loading {tagged} into the kind node...")
        self._must(
            [self.tool("kind"), "load", "docker-image", tagged, "--name", self.cluster],
            "the image must exist locally: `docker images mlops-platform/platform`",
        )
        return tag

    def wait_ready(self, timeout: float = 600.0, poll: float = 5.0) -> None:
        """Until every Deployment and StatefulSet of the platform's namespaces has its ready replicas.

        A model server is ready only once it serves its champion, and a new platform has none yet: for
        those it is enough that their containers started (the startup probe passed), and the report says
        that they wait for a champion (`mlplat demo` registers one)."""
        namespaces = set(self.namespaces())
        deadline, last = time.monotonic() + timeout, ""
        while True:
            short, waiting, total = self._not_ready(namespaces)
            if total and not short:
                note = f"; {', '.join(waiting)} started, waiting for a champion (mlplat demo)" if waiting else ""
                self.log(f"all {total} Deployments and StatefulSets are up{note}")
                return
            report = f"waiting for {len(short)} of {total} workloads: {', '.join(short)}"
            if report != last:
                self.log(report)
                last = report
            if time.monotonic() > deadline:
                raise CommandFailed(
                    ["kubectl", "get", "deployments,statefulsets", "-A"],
                    report,
                    f"inspect the pods: `kubectl --context {self.context} get pods -A` and "
                    f"`kubectl --context {self.context} -n <namespace> describe pod <name>`; "
                    "see docs/kind.md#troubleshooting",
                )
            time.sleep(poll)

    def _not_ready(self, namespaces: set[str]) -> tuple[list[str], list[str], int]:
        """(workloads not ready, model servers started but not serving yet, workloads in all)."""
        from services.engine.workloads import readiness

        items = [item for item in self._workloads() if item["metadata"]["namespace"] in namespaces]
        started = self._started_model_servers(namespaces)
        short, waiting = [], []
        for item in items:
            row = readiness(item)
            labels = item["spec"]["template"]["metadata"].get("labels", {})
            where = f"{row['namespace']}/{row['name']}"
            if row["ready"] >= row["desired"]:
                continue
            if labels.get("app.kubernetes.io/component") == "model-server" and started.get(where, 0) >= row["desired"]:
                waiting.append(where)
            else:
                short.append(f"{where} {row['ready']}/{row['desired']}")
        return short, waiting, len(items)

    def _started_model_servers(self, namespaces: set[str]) -> dict[str, int]:
        """namespace/model -> model-server pods whose containers have started (live, maybe not ready)."""
        listing = self._must(
            [self.tool("kubectl"), "--context", self.context, "get", "pods", "-A", "-o=json"]
            + ["-l", "app.kubernetes.io/component=model-server"],
            f"is the cluster up? `kubectl --context {self.context} get pods -A`",
        )
        counts: dict[str, int] = {}
        for pod in json.loads(listing)["items"]:
            meta, statuses = pod["metadata"], pod.get("status", {}).get("containerStatuses", [])
            if meta["namespace"] in namespaces and statuses and all(s.get("started") for s in statuses):
                key = f"{meta['namespace']}/{meta['labels'].get('app.kubernetes.io/name', '')}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    def namespaces(self) -> list[str]:
        return [SYSTEM_NAMESPACE, MONITORING_NAMESPACE, *[t.name for t in self.deployment.blueprint.tenants]]

    def delete_cluster(self) -> None:
        self._must(
            [self.tool("kind"), "delete", "cluster", "--name", self.cluster],
            "run `kind get clusters` to see what is left",
        )

    def remove_registry(self) -> None:
        """The local registry container and its volume, when the kind path started them."""
        from services.images.registry import CONTAINER, VOLUME

        if self.run(["docker", "container", "inspect", CONTAINER])[0] == 0:
            self._must(["docker", "rm", "-f", CONTAINER], f"remove it by hand: `docker rm -f {CONTAINER}`")
        if self.run(["docker", "volume", "inspect", VOLUME])[0] == 0:
            self._must(["docker", "volume", "rm", VOLUME], f"remove it by hand: `docker volume rm {VOLUME}`")
