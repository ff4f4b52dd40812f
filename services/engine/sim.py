"""The `sim` target: a real Kubernetes control plane with simulated pods, on loopback, no containers.

`start()` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and a tiny volume
provisioner as background processes (each in its own process group, logs under `.mlplat/sim/logs/`),
waits until each is healthy, and writes `.mlplat/sim/kubeconfig` whose context is the stack's
(`kind-mlops`). Everything above the kubelet is the real thing: API validation and defaulting,
admission (ValidatingAdmissionPolicy's CEL included), RBAC and Node authorization, the controllers
and the scheduler. kwok plays the kubelet: it marks fake nodes Ready and scheduled pods Running and
Ready, so Deployments and StatefulSets reach their ready replicas without running a container.
`stop()` ends every process the state file records (checked by pid and start time, so a reused pid
is never killed) and leaves no orphan.

Choices, kind's where kind has one: the API server gets kind's flags (Node,RBAC authorization,
NodeRestriction on top of the default admission plugins, which include ValidatingAdmissionPolicy,
PodSecurity, LimitRanger and ResourceQuota); one fake node named like kind's, sized like the machine
(a kind node reports its host's CPUs and memory), less what kind's own pods request; a default
StorageClass `standard` served the way kind's local-path-provisioner serves it
(services/engine/provisioner.py). etcd listens on plain HTTP
on 127.0.0.1, the one shortcut: nothing but the API server on this machine dials it. See ADR 0008.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from services.deploy.capacity import KIND_SYSTEM_CPU, KIND_SYSTEM_MEMORY, NodeSize
from services.engine.pki import CLIENTS, client_tls, ensure_pki
from services.engine.toolchain import KWOK_STAGES

__all__ = [
    "CONTEXT",
    "CONTROL_PLANE_BINARIES",
    "NodeSize",
    "NODE_NAME",
    "SimError",
    "SimLayout",
    "alive",
    "api_server_args",
    "fake_node",
    "kubeconfig",
    "running",
    "start",
    "stop",
]

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = "kind-mlops"  # the context Pulumi.dev.yaml names: the stack deploys here unchanged
NODE_NAME = "mlops-control-plane"  # kind's name for the single node of cluster `mlops`
SERVICE_RANGE = "10.96.0.0/16"  # kind's
STORAGE_PROVISIONER = "rancher.io/local-path"  # what kind's `standard` StorageClass names
START_TIMEOUT = 90.0
COMPONENT_PORTS = ("controller-manager", "scheduler", "kwok")
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

Log = Callable[[str], None]


class SimError(RuntimeError):
    """A component did not start or stop; the message names it and its log."""


@dataclass(frozen=True)
class SimLayout:
    """Where the sim cluster keeps its state (all of it under one folder, `.mlplat/sim/` by default)."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def state_file(self) -> Path:
        return self.root / "sim.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def component_kubeconfig(self, name: str) -> Path:
        return self.root / "kubeconfigs" / f"{name}.yaml"


def default_layout() -> SimLayout:
    return SimLayout(ROOT / ".mlplat" / "sim")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kubeconfig(server: str, pki: Path, client: str, context: str = CONTEXT) -> dict[str, Any]:
    """A kubeconfig naming cluster, user and context the way kind does (all three `kind-<cluster>`)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}],
        "users": [
            {
                "name": context,
                "user": {
                    "client-certificate": str(pki / f"{client}.crt"),
                    "client-key": str(pki / f"{client}.key"),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }


def etcd_args(layout: SimLayout, client_port: int, peer_port: int) -> list[str]:
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [
        "etcd",
        "--name=sim",
        f"--data-dir={layout.root / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sim={peer}",
        "--listen-metrics-urls=",
        "--unsafe-no-fsync",  # a throwaway local cluster: speed over crash durability
    ]


def api_server_args(layout: SimLayout, port: int, etcd_port: int) -> list[str]:
    pki = layout.pki
    return [
        "kube-apiserver",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        "--authorization-mode=Node,RBAC",
        # Added to the defaults (NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity, ResourceQuota,
        # ValidatingAdmissionPolicy, the webhooks, ...), exactly as kind's kubeadm configuration does.
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def controller_manager_args(layout: SimLayout, port: int) -> list[str]:
    pki, config = layout.pki, layout.component_kubeconfig("controller-manager")
    return [
        "kube-controller-manager",
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={layout.root / 'controller-manager'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        "--use-service-account-credentials=true",
        "--leader-elect=false",
        "--controllers=*,bootstrapsigner,tokencleaner",
    ]


def scheduler_args(layout: SimLayout, port: int) -> list[str]:
    config = layout.component_kubeconfig("scheduler")
    return [
        "kube-scheduler",
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={layout.root / 'scheduler'}",
        "--leader-elect=false",
    ]


def kwok_args(layout: SimLayout, port: int, stages: Path) -> list[str]:
    """kwok with the release's "fast" Stages (built into the toolchain) and a node lease renewed like a
    kubelet's, so the node lifecycle controller never marks the fake node NotReady and evicts its pods."""
    return [
        "kwok",
        f"--config={stages}",
        "--node-lease-duration-seconds=40",
        f"--kubeconfig={layout.component_kubeconfig('kwok')}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.1/16",  # kind's pod subnet
        "--node-ip=127.0.0.1",
        f"--server-address=127.0.0.1:{port}",
    ]


def fake_node(size: NodeSize, name: str = NODE_NAME, *, disk_bytes: int | None = None) -> dict[str, Any]:
    """A Node kwok manages, labelled like kind's control-plane node, with `size` as its capacity.

    Its allocatable is the capacity less what kind's own pods request (services/deploy/capacity.py):
    those pods do not exist here, and without this a blueprint could schedule on the sim and stay
    Pending on kind."""
    disk = str(disk_bytes or shutil.disk_usage(ROOT).total)
    capacity = {"cpu": str(size.cpus), "memory": str(size.memory_bytes), "pods": "110", "ephemeral-storage": disk}
    free_cpu = int(size.cpus * 1000 - KIND_SYSTEM_CPU * 1000)
    allocatable = {**capacity, "cpu": f"{free_cpu}m", "memory": str(size.memory_bytes - int(KIND_SYSTEM_MEMORY))}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/control-plane": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "nodeInfo": {"kubeletVersion": "fake", "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


STANDARD_STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": STORAGE_PROVISIONER,
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "WaitForFirstConsumer",
}


# ---- processes ------------------------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/<pid>/stat), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


def alive(record: Mapping[str, Any]) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(record["pid"], os.WNOHANG)  # reap it if it is our own child
    return _start_time(record["pid"]) == record["start_time"]


def _save(layout: SimLayout, state: dict[str, Any]) -> None:
    layout.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")


def running(layout: SimLayout | None = None) -> dict[str, Any] | None:
    """The state of a running sim cluster (ports, processes), None when none runs from this folder."""
    layout = layout or default_layout()
    if not layout.state_file.is_file():
        return None
    state = json.loads(layout.state_file.read_text(encoding="utf-8"))
    return state if any(alive(record) for record in state["processes"]) else None


def _spawn(layout: SimLayout, state: dict[str, Any], name: str, argv: list[str], env: Mapping[str, str]) -> None:
    log = open(layout.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    finally:
        log.close()
    state["processes"].append({"name": name, "pid": process.pid, "start_time": _start_time(process.pid)})
    _save(layout, state)  # recorded at once: a start that fails later is still fully stoppable


def _wait_until(what: str, layout: SimLayout, state: dict[str, Any], check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for record in state["processes"]:
            if not alive(record):
                tail = (layout.logs / f"{record['name']}.log").read_text(errors="replace").splitlines()[-10:]
                raise SimError(f"{record['name']} exited while waiting for {what}; log tail:\n" + "\n".join(tail))
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SimError(f"{what} not ready within {START_TIMEOUT:.0f}s; logs in {layout.logs}")


def _healthz(port: int) -> Callable[[], bool]:
    # The controller manager and scheduler serve with self-signed certificates of their own (--cert-dir).
    return lambda: httpx.get(f"https://127.0.0.1:{port}/healthz", verify=False, timeout=2).status_code == 200


def api_client(layout: SimLayout, server: str) -> httpx.Client:
    pki = layout.pki
    return httpx.Client(
        base_url=server, verify=client_tls(pki / "ca.crt", pki / "admin.crt", pki / "admin.key"), timeout=10
    )


def start(
    layout: SimLayout | None = None,
    *,
    bin_dir: Path,
    node: NodeSize | None = None,
    context: str = CONTEXT,
    log: Log = print,
) -> dict:
    """Start the control plane (or return the running one's state); see the module docstring.
    `node` sizes the fake node (default: this machine, as kind's node would be)."""
    node = node or NodeSize.machine()
    layout = layout or default_layout()
    if state := running(layout):
        log(f"sim cluster already running (kubeconfig {layout.kubeconfig})")
        return state
    missing = [name for name in (*CONTROL_PLANE_BINARIES, KWOK_STAGES) if not (bin_dir / name).exists()]
    if missing:
        raise SimError(f"missing in {bin_dir}: {', '.join(missing)} -> run `make toolchain` (or `mlplat toolchain`)")
    for folder in (layout.root, layout.logs, layout.root / "kubeconfigs"):
        folder.mkdir(parents=True, exist_ok=True)
    ensure_pki(layout.pki)
    ports = {name: free_port() for name in ("etcd", "etcd-peer", "apiserver", *COMPONENT_PORTS)}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    state: dict[str, Any] = {
        "server": server,
        "context": context,
        "ports": ports,
        "node": {"cpus": node.cpus, "memory_bytes": node.memory_bytes},
        "processes": [],
    }
    layout.kubeconfig.write_text(yaml.safe_dump(kubeconfig(server, layout.pki, "admin", context)), encoding="utf-8")
    os.chmod(layout.kubeconfig, 0o600)
    for client in CLIENTS:
        if client.file != "admin":
            path = layout.component_kubeconfig(client.file)
            path.write_text(yaml.safe_dump(kubeconfig(server, layout.pki, client.file)), encoding="utf-8")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        log("sim: etcd")
        _spawn(layout, state, "etcd", etcd_args(layout, ports["etcd"], ports["etcd-peer"]), env)
        etcd_health = f"http://127.0.0.1:{ports['etcd']}/health"
        _wait_until("etcd", layout, state, lambda: httpx.get(etcd_health, timeout=2).status_code == 200)
        log("sim: kube-apiserver")
        _spawn(layout, state, "kube-apiserver", api_server_args(layout, ports["apiserver"], ports["etcd"]), env)
        with api_client(layout, server) as api:
            _wait_until("kube-apiserver", layout, state, lambda: api.get("/readyz").status_code == 200)
            log("sim: kube-controller-manager, kube-scheduler, kwok")
            manager = controller_manager_args(layout, ports["controller-manager"])
            _spawn(layout, state, "kube-controller-manager", manager, env)
            _spawn(layout, state, "kube-scheduler", scheduler_args(layout, ports["scheduler"]), env)
            _spawn(layout, state, "kwok", kwok_args(layout, ports["kwok"], bin_dir / KWOK_STAGES), env)
            provisioner = [sys.executable, "-m", "services.engine.provisioner", "--kubeconfig", str(layout.kubeconfig)]
            provisioner += ["--volumes", str(layout.root / "volumes")]
            _spawn(layout, state, "provisioner", provisioner, {**env, "PYTHONPATH": str(ROOT)})
            _wait_until("kube-controller-manager", layout, state, _healthz(ports["controller-manager"]))
            _wait_until("kube-scheduler", layout, state, _healthz(ports["scheduler"]))
            _create(api, "/api/v1/nodes", fake_node(node))
            _create(api, "/apis/storage.k8s.io/v1/storageclasses", STANDARD_STORAGE_CLASS)
            node = f"/api/v1/nodes/{NODE_NAME}"
            _wait_until("the fake node to be Ready", layout, state, lambda: _node_ready(api.get(node).json()))
            sa = "/api/v1/namespaces/default/serviceaccounts/default"
            controllers = "the controllers (the default ServiceAccount)"
            _wait_until(controllers, layout, state, lambda: api.get(sa).status_code == 200)
    except BaseException:
        stop(layout, log=lambda line: None)
        raise
    log(f"sim: control plane ready at {server} (kubeconfig {layout.kubeconfig}, context {context})")
    return state


def _create(api: httpx.Client, path: str, body: Mapping[str, Any]) -> None:
    response = api.post(path, json=body)
    if response.status_code not in (201, 409):  # 409: it exists already (a restart on kept etcd data)
        raise SimError(f"creating {body['kind']} {body['metadata']['name']}: {response.status_code} {response.text}")


def _node_ready(node: Mapping[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def stop(layout: SimLayout | None = None, *, timeout: float = 15.0, log: Log = print) -> list[str]:
    """Stop every recorded process, newest first (SIGTERM to its group, SIGKILL after `timeout`)."""
    layout = layout or default_layout()
    if not layout.state_file.is_file():
        return []
    state = json.loads(layout.state_file.read_text(encoding="utf-8"))
    stopped = []
    for record in reversed(state["processes"]):
        if not alive(record):
            continue
        os.killpg(record["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(record):
            os.killpg(record["pid"], signal.SIGKILL)
            while alive(record):
                time.sleep(0.05)
        stopped.append(record["name"])
        log(f"sim: stopped {record['name']} (pid {record['pid']})")
    layout.state_file.unlink()
    return stopped
