"""`mlplat up|down --target sim`: the platform on a container-less control plane, deployed by `pulumi up`.

Up: start the sim control plane (services/engine/sim.py: etcd, kube-apiserver, controller manager,
scheduler and kwok on loopback), then deploy the selected blueprint with the real `pulumi up` through
the Automation API (infra/automation.py), using the pinned Pulumi CLI and Kubernetes provider built by
`mlplat toolchain`. The stack's state, passphrase and config live in `.mlplat/sim/` beside the cluster
they describe, so the tracked `Pulumi.<stack>.yaml` never gets sim settings and `down` removes both.
Then it checks that every Deployment and StatefulSet is ready (kwok-simulated pods).
Down: `pulumi destroy`, then stop every process and delete `.mlplat/sim/`, the way `kind delete
cluster` removes a kind cluster.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from services.cli import CliError

PULUMI_BINARIES = ("pulumi", "pulumi-resource-kubernetes")
SIM_CONFIG = {"mlops-platform:metricsServer": "false"}  # the stack config the sim target sets (see _settings)


def _toolchain_bin() -> Path:
    from services.engine.toolchain import bin_dir

    return bin_dir()


def _require_toolchain(bin_dir: Path) -> None:
    from services.engine.sim import CONTROL_PLANE_BINARIES

    missing = [name for name in (*CONTROL_PLANE_BINARIES, "kubectl", *PULUMI_BINARIES) if not (bin_dir / name).exists()]
    if missing:
        raise CliError(
            f"the sim target needs the pinned toolchain; not built yet: {', '.join(missing)}\n"
            "-> run `make toolchain` once (a cold build takes 15-30 minutes and needs Go; docs/engine.md)"
        )


def _layout(root: Path):
    """The sim cluster of a state folder (`--root`, `.mlplat` by default): `<root>/sim/`."""
    from services.engine.sim import SimLayout

    return SimLayout(root.resolve() / "sim")


def _settings(stack: str, blueprint: str | None, bin_dir: Path, layout):
    from infra import automation
    from services.engine import sim
    from services.engine.toolchain import pulumi_install

    return automation.deploy_settings(
        stack,
        kube_context=sim.CONTEXT,
        blueprint=blueprint,
        kubeconfig=str(layout.kubeconfig),
        metrics_server=False,  # an aggregated API no container serves would stall discovery (ADR 0008)
        state_dir=layout.root,
        work_dir=layout.root / "pulumi",
        pulumi=pulumi_install(bin_dir),
    )


def _node_size(args: argparse.Namespace):
    """The fake node: this machine's size (as a kind node would be), or what --node-cpus/--node-memory say."""
    from blueprints.quantity import QuantityError, parse_quantity
    from services.engine.sim import NodeSize

    machine = NodeSize.machine()
    cpus = machine.cpus if args.node_cpus is None else args.node_cpus
    if cpus < 1:
        raise CliError(f"--node-cpus {cpus}: use 1 or more")
    memory = machine.memory_bytes
    if args.node_memory is not None:
        try:
            memory = int(parse_quantity(args.node_memory))
        except QuantityError:
            raise CliError(f'--node-memory {args.node_memory!r}: use a quantity such as "8Gi" or "16384Mi"') from None
    return NodeSize(cpus, memory)


def _check_fit(blueprint: str, node) -> None:
    """Stop before anything starts when the blueprint's requests cannot schedule on the node."""
    from decimal import Decimal

    from infra.render import render_blueprint
    from services.deploy.capacity import requests_of, shortfalls

    requested = requests_of(render_blueprint(blueprint, config=SIM_CONFIG).manifests)
    problems = shortfalls(requested, Decimal(node.cpus), Decimal(node.memory_bytes))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise CliError(
            f"blueprint {blueprint} does not fit the sim cluster's node, as it would not fit a kind node that size:\n"
            f"{lines}\n-> give the node more (--node-cpus 4 --node-memory 8Gi) or pick a smaller blueprint"
        )


def _print(line: str) -> None:
    print(line, end="" if line.endswith("\n") else "\n", flush=True)


def sim_up(args: argparse.Namespace) -> int:
    from infra import automation
    from policies.deploy.plugin import gate as policy_gate
    from services.cli.standalone_cmd import selected_blueprint
    from services.engine import sim, workloads

    name, blueprint = selected_blueprint(args.blueprint, args.stack)
    node = _node_size(args)
    _check_fit(name, node)
    bin_dir = _toolchain_bin()
    _require_toolchain(bin_dir)
    layout = _layout(args.root)
    try:
        sim.start(layout, bin_dir=bin_dir, node=node)
    except sim.SimError as exc:
        raise CliError(f"{exc}\n-> `mlplat down --target sim` removes what started", code=1) from None
    settings = _settings(args.stack, name, bin_dir, layout)
    (layout.root / "pulumi").mkdir(parents=True, exist_ok=True)
    gate = policy_gate(blueprint.platform.policy, layout.root / "policy")
    print(f"pulumi up: stack {args.stack}, blueprint {name}, context {sim.CONTEXT}, policy pack on", flush=True)
    try:
        automation.up(settings, on_output=_print, gate=gate)
        short = workloads.not_ready(str(bin_dir / "kubectl"), layout.kubeconfig, sim.CONTEXT)
    except Exception as exc:
        if type(exc).__module__.startswith("pulumi.automation") or isinstance(exc, workloads.KubectlError):
            raise CliError(
                f"deploying onto the sim cluster failed:\n{exc}\n-> the cluster stays up for inspection "
                f"(kubectl --kubeconfig {layout.kubeconfig} get events -A); `mlplat up --target sim` again "
                "resumes, `mlplat down --target sim` removes it",
                code=1,
            ) from None
        raise
    if short:
        raise CliError("pulumi up finished but these are not ready: " + "; ".join(short), code=1)
    print("\nThe platform runs on the sim cluster (pods simulated by kwok; nothing executes).")
    print(f"  kubectl --kubeconfig {layout.kubeconfig} get pods -A")
    root = "" if args.root == Path(".mlplat") else f" --root {args.root}"
    print(f"  mlplat status --target sim{root}      mlplat down --target sim{root}")
    return 0


def sim_down(args: argparse.Namespace) -> int:
    from infra import automation
    from services.engine import sim

    layout = _layout(args.root)
    bin_dir = _toolchain_bin()
    if sim.running(layout) and (layout.root / "pulumi").is_dir():
        _require_toolchain(bin_dir)
        try:
            automation.destroy(_settings(args.stack, args.blueprint, bin_dir, layout), on_output=_print)
        except Exception as exc:
            if not type(exc).__module__.startswith("pulumi.automation"):
                raise
            raise CliError(
                f"pulumi destroy failed:\n{exc}\n-> fix the error above and run `mlplat down --target sim` again",
                code=1,
            ) from None
    sim.stop(layout)
    if layout.root.exists():
        shutil.rmtree(layout.root)
    print("sim cluster stopped and removed")
    return 0


def sim_status(root: Path, as_json: bool = False) -> int:
    """The control plane's processes and, per namespace, each Deployment and StatefulSet's readiness."""
    from services.engine import sim, workloads

    layout = _layout(root)
    state = sim.running(layout)
    if state is None:
        raise CliError("no sim cluster is running (start one with `mlplat up --target sim`)", code=1)
    processes = [{"name": r["name"], "pid": r["pid"], "healthy": sim.alive(r)} for r in state["processes"]]
    listing = workloads.kubectl(
        str(_toolchain_bin() / "kubectl"), layout.kubeconfig, state["context"], "get", "deploy,sts", "-A", "-o=json"
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
    healthy = all(p["healthy"] for p in processes) and all(r["ready"] >= r["desired"] for r in rows)
    return 0 if healthy else 1
