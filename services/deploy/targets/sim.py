"""The sim target: the platform on a container-less control plane, deployed by the real `pulumi up`.

    up:     the fake node sized (this machine's, or --node-cpus/--node-memory) -> the blueprint fits it
            -> the pinned toolchain is built -> the control plane started (services/engine/sim.py:
            etcd, kube-apiserver, controller manager, scheduler and kwok on loopback) -> `pulumi up`
            with the policy pack -> every Deployment and StatefulSet ready (kwok-simulated pods)
    down:   `pulumi destroy`, then every process stopped and `.mlplat/sim/` deleted, the way
            `kind delete cluster` removes a kind cluster
    status: the control plane's processes and each workload's readiness

It uses the Pulumi CLI and Kubernetes provider `mlplat toolchain` builds. The stack's state,
passphrase and config live in `.mlplat/sim/` beside the cluster they describe, so the tracked
`Pulumi.<stack>.yaml` never gets sim settings and `down` removes both.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from services.deploy import pulumi_stack
from services.deploy.capacity import NodeSize, blueprint_requests, shortfalls
from services.deploy.target import DEFAULT_ROOT, DeployError, Deployment, Options

__all__ = ["SIM_CONFIG", "SimTarget"]

PULUMI_BINARIES = ("pulumi", "pulumi-resource-kubernetes")
SIM_CONFIG = {"mlops-platform:metricsServer": "false"}  # the stack config the sim target sets (see _settings)


@dataclass
class SimTarget:
    deployment: Deployment
    options: Options = Options()

    name: ClassVar[str] = "sim"

    @property
    def layout(self):
        """The sim cluster of a state folder (`--root`, `.mlplat` by default): `<root>/sim/`."""
        from services.engine.sim import SimLayout

        return SimLayout(self.deployment.root.resolve() / "sim")

    @property
    def bin_dir(self) -> Path:
        from services.engine.toolchain import bin_dir

        return bin_dir()

    # --- the protocol -----------------------------------------------------------------------------
    def preflight(self) -> list[str]:
        from services.engine.sim import CONTROL_PLANE_BINARIES

        needed = (*CONTROL_PLANE_BINARIES, "kubectl", *PULUMI_BINARIES)
        missing = [name for name in needed if not (self.bin_dir / name).exists()]
        return [f"the pinned toolchain is not built yet: {', '.join(missing)}"] if missing else []

    def up(self) -> None:
        from services.engine import sim, workloads

        node = self._node_size()
        self._check_fit(node)
        self._require_toolchain()
        layout = self.layout
        try:
            sim.start(layout, bin_dir=self.bin_dir, node=node)
        except sim.SimError as exc:
            raise DeployError(f"{exc}\n-> `mlplat down --target sim` removes what started", code=1) from None
        (layout.root / "pulumi").mkdir(parents=True, exist_ok=True)
        advice = (
            f"the cluster stays up for inspection (kubectl --kubeconfig {layout.kubeconfig} get events -A); "
            "`mlplat up --target sim` again resumes, `mlplat down --target sim` removes it"
        )
        with pulumi_stack.pulumi_failures("deploying onto the sim cluster", advice):
            pulumi_stack.up(
                self._settings(self.deployment.blueprint_name), self.deployment, sim.CONTEXT, layout.root / "policy"
            )
        try:
            short = workloads.not_ready(str(self.bin_dir / "kubectl"), layout.kubeconfig, sim.CONTEXT)
        except workloads.KubectlError as exc:
            raise DeployError(f"deploying onto the sim cluster failed:\n{exc}\n-> {advice}", code=1) from None
        if short:
            raise DeployError("pulumi up finished but these are not ready: " + "; ".join(short), code=1)
        print("\nThe platform runs on the sim cluster (pods simulated by kwok; nothing executes).")
        print(f"  kubectl --kubeconfig {layout.kubeconfig} get pods -A")
        root = "" if self.deployment.root == DEFAULT_ROOT else f" --root {self.deployment.root}"
        print(f"  mlplat status --target sim{root}      mlplat down --target sim{root}")

    def down(self) -> None:
        from services.engine import sim

        layout = self.layout
        if sim.running(layout) and (layout.root / "pulumi").is_dir():
            self._require_toolchain()
            with pulumi_stack.pulumi_failures(
                "pulumi destroy", "fix the error above and run `mlplat down --target sim` again"
            ):
                pulumi_stack.destroy(self._settings(self.deployment.blueprint_override))
        sim.stop(layout)
        if layout.root.exists():
            shutil.rmtree(layout.root)
        print("sim cluster stopped and removed")

    def status(self, as_json: bool = False) -> bool:
        """The control plane's processes and, per namespace, each Deployment and StatefulSet's readiness."""
        from services.engine import sim, workloads

        layout = self.layout
        state = sim.running(layout)
        if state is None:
            raise DeployError("no sim cluster is running (start one with `mlplat up --target sim`)", code=1)
        processes = [{"name": r["name"], "pid": r["pid"], "healthy": sim.alive(r)} for r in state["processes"]]
        listing = workloads.kubectl(
            str(self.bin_dir / "kubectl"), layout.kubeconfig, state["context"], "get", "deploy,sts", "-A", "-o=json"
        )
        rows = [workloads.readiness(item) for item in json.loads(listing)["items"]]
        if as_json:
            print(json.dumps({"server": state["server"], "processes": processes, "workloads": rows}, indent=2))
        else:
            print(f"sim cluster {state['server']} (context {state['context']}, kubeconfig {layout.kubeconfig})")
            for process in processes:
                print(f"  {process['name']:<24} {'healthy' if process['healthy'] else 'DOWN':<8} pid {process['pid']}")
            for namespace in sorted({row["namespace"] for row in rows}):
                print(f"{namespace}:")
                for row in (r for r in rows if r["namespace"] == namespace):
                    print(f"  {row['kind']:<12} {row['name']:<28} {row['ready']}/{row['desired']} ready")
        return all(p["healthy"] for p in processes) and all(r["ready"] >= r["desired"] for r in rows)

    def running(self) -> bool:
        from services.engine.sim import running

        return running(self.layout) is not None

    # --- the steps ----------------------------------------------------------------------------------
    def _require_toolchain(self) -> None:
        problems = self.preflight()
        if problems:
            missing = problems[0].split(": ", 1)[1]
            raise DeployError(
                f"the sim target needs the pinned toolchain; not built yet: {missing}\n"
                "-> run `make toolchain` once (a cold build takes 15-30 minutes and needs Go; docs/engine.md)",
                code=2,
            )

    def _settings(self, blueprint: str | None):
        from infra import automation
        from services.engine import sim
        from services.engine.toolchain import pulumi_install

        layout = self.layout
        return automation.deploy_settings(
            self.deployment.stack,
            kube_context=sim.CONTEXT,
            blueprint=blueprint,
            kubeconfig=str(layout.kubeconfig),
            metrics_server=False,  # an aggregated API no container serves would stall discovery (ADR 0008)
            state_dir=layout.root,
            work_dir=layout.root / "pulumi",
            pulumi=pulumi_install(self.bin_dir),
        )

    def _node_size(self) -> NodeSize:
        """The fake node: this machine's size (as a kind node would be), or what the options say."""
        from blueprints.quantity import QuantityError, parse_quantity

        machine = NodeSize.machine()
        cpus = machine.cpus if self.options.node_cpus is None else self.options.node_cpus
        if cpus < 1:
            raise DeployError(f"--node-cpus {cpus}: use 1 or more", code=2)
        memory = machine.memory_bytes
        if self.options.node_memory is not None:
            try:
                memory = int(parse_quantity(self.options.node_memory))
            except QuantityError:
                raise DeployError(
                    f'--node-memory {self.options.node_memory!r}: use a quantity such as "8Gi" or "16384Mi"', code=2
                ) from None
        return NodeSize(cpus, memory)

    def _check_fit(self, node: NodeSize) -> None:
        """Stop before anything starts when the blueprint's requests cannot schedule on the node."""
        from decimal import Decimal

        requested = blueprint_requests(self.deployment.blueprint_name, SIM_CONFIG)
        problems = shortfalls(requested, Decimal(node.cpus), Decimal(node.memory_bytes))
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            raise DeployError(
                f"blueprint {self.deployment.blueprint_name} does not fit the sim cluster's node, as it would not "
                f"fit a kind node that size:\n{lines}\n"
                "-> give the node more (--node-cpus 4 --node-memory 8Gi) or pick a smaller blueprint",
                code=2,
            )
