"""The sim control plane is the real one: pinned versions, loopback only, kind's authorization and
admission, a kind-sized fake node, and a stop that leaves no process behind."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import time
from pathlib import Path

from services.engine import sim, toolchain, workloads
from tests.engine.conftest import NODE


def _listening_addresses(pid: int) -> set[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """(address, port) of every TCP socket the process listens on, read from /proc (no extra tool)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)  # 32-bit words in the kernel's (little-endian) byte order
                native = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add((ipaddress.ip_address(native), int(port, 16)))
    return found


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def test_api_server_runs_the_kubernetes_version_of_the_kind_node_image(cluster):
    version = json.loads(cluster.kubectl("get", "--raw", "/version"))
    assert version["gitVersion"] == f"v{toolchain.load_pins()['kubernetes'].version}"


def test_every_component_listens_on_loopback_only(cluster):
    servers = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
    for record in cluster.state["processes"]:
        addresses = _listening_addresses(record["pid"])
        assert addresses or record["name"] not in servers, f"{record['name']} listens on nothing"
        exposed = [f"{a}:{p}" for a, p in addresses if not _loopback(a)]
        assert not exposed, f"{record['name']} listens beyond loopback: {exposed}"


def test_kubeconfig_context_is_the_one_the_dev_stack_names(cluster):
    stack = (toolchain.ROOT / "Pulumi.dev.yaml").read_text()
    assert f"mlops-platform:kubeContext: {sim.CONTEXT}" in stack
    assert cluster.kubectl("config", "current-context").strip() == sim.CONTEXT


def test_fake_node_is_ready_and_sized_as_asked(cluster):
    node = json.loads(cluster.kubectl("get", "node", sim.NODE_NAME, "-o=json"))
    assert node["status"]["capacity"]["cpu"] == str(NODE.cpus)
    assert node["status"]["allocatable"]["cpu"] == f"{NODE.cpus * 1000 - 950}m"
    assert node["status"]["capacity"]["pods"] == "110"
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"


def test_rbac_and_node_authorization_are_on(cluster):
    nobody = "system:serviceaccount:default:default"
    assert not cluster.can_i("list", "secrets", "kube-system", nobody)
    assert cluster.can_i("list", "secrets", "kube-system")  # the admin: kubernetes-admin in system:masters
    # The Node authorizer scopes a kubelet identity to its own node's objects.
    flags = sim.api_server_args(cluster.layout, 1, 2)
    assert "--authorization-mode=Node,RBAC" in flags


def test_a_validating_admission_policy_denies_with_its_own_cel_message(cluster):
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "engine-test-no-latest"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ]
            },
            "validations": [
                {"expression": "!has(object.data) || !('tag' in object.data) || object.data.tag != 'latest'"}
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "engine-test-no-latest"},
        "spec": {
            "policyName": "engine-test-no-latest",
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"engine-test": "vap"}}},
        },
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "vap-probe", "labels": {"engine-test": "vap"}},
    }
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [policy, binding, namespace]}),
    )
    try:
        bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "vap-probe"}}
        denial = None
        for _ in range(40):  # the policy reaches the admission plugin's informer within a second or two
            try:
                cluster.kubectl(
                    "create", "--dry-run=server", "-f", "-", input=json.dumps({**bad, "data": {"tag": "latest"}})
                )
            except workloads.KubectlError as exc:
                denial = exc.output
                break
            time.sleep(0.25)
        assert denial and "engine-test-no-latest" in denial
        cluster.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps({**bad, "data": {"tag": "1.0"}}))
    finally:
        cluster.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", "engine-test-no-latest")
        cluster.kubectl("delete", "namespace", "vap-probe", "--wait=false")


def test_stop_ends_every_process_it_started(bin_dir, tmp_path):
    layout = sim.SimLayout(tmp_path / "sim")
    try:
        state = sim.start(layout, bin_dir=bin_dir, log=lambda line: None)
        records = state["processes"]
        assert {r["name"] for r in records} >= {
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        }
    finally:
        stopped = sim.stop(layout, log=lambda line: None)
    assert sorted(stopped) == sorted(r["name"] for r in records)
    assert not any(sim.alive(r) for r in records)
    assert sim.running(layout) is None
