"""A kind cluster booted from the node image built here does what the platform relies on: the node is Ready,
cluster DNS answers, the default StorageClass gives pods real volumes, and NetworkPolicies are enforced.

Every test pod runs agnhost (Kubernetes' e2e test server): `netexec` serves HTTP, `connect` dials a
host:port (exit 0 only if the name resolved and the TCP handshake completed), `mounttest` writes a file.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.kind_node.conftest import Cluster, CommandFailed

AGNHOST_POD = """
apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: NAMESPACE, labels: {app: NAME}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: agnhost
      image: IMAGE
      args: ARGS
"""


def pod(cluster: Cluster, name: str, namespace: str, args: list[str], volumes: dict | None = None) -> None:
    manifest = yaml.safe_load(AGNHOST_POD)
    manifest["metadata"].update(name=name, namespace=namespace, labels={"app": name})
    manifest["spec"]["containers"][0].update(image=cluster.agnhost, args=args)
    if volumes:
        manifest["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": volumes["claim"]}}]
        manifest["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": volumes["path"]}]
        manifest["spec"]["restartPolicy"] = "Never"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def connects(cluster: Cluster, namespace: str, source: str, destination: str) -> bool:
    """Whether pod `source` opens a TCP connection to `destination` (host:port) within 3 seconds."""
    try:
        cluster.kubectl("exec", "-n", namespace, source, "--", "/agnhost", "connect", destination, "--timeout=3s")
    except CommandFailed as exc:
        if "TIMEOUT" in exc.output or "REFUSED" in exc.output:
            return False
        raise
    return True


def eventually(check, expected: bool, seconds: float = 90) -> bool:
    """Poll `check()` until it returns `expected` (policies are programmed asynchronously); the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer == expected or time.monotonic() > deadline:
            return answer
        time.sleep(2)


@pytest.fixture(scope="module")
def namespaces(cluster):
    names = ("kind-test-client", "kind-test-server", "kind-test-storage")
    for name in names:
        cluster.kubectl("create", "namespace", name)
    yield names
    cluster.kubectl("delete", "namespace", *names, "--wait=false", check=False)


def test_the_node_is_ready_and_runs_the_kubernetes_built_here(cluster):
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    [node] = nodes
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.35.8"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://2.3.4"  # CRI drops the v


def test_every_system_pod_runs_from_an_image_built_here(cluster):
    pods = [
        pod
        for namespace in ("kube-system", "local-path-storage")
        for pod in json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json"))["items"]
    ]
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert "mlops-platform/kube-router:v2.1.0" in images
    assert "registry.k8s.io/coredns/coredns:v1.13.1" in images
    not_running = [p["metadata"]["name"] for p in pods if p["status"]["phase"] != "Running"]
    assert not not_running


def test_coredns_resolves_kubernetes_default(cluster, namespaces):
    client = namespaces[0]
    pod(cluster, "dns-client", client, ["pause"])
    cluster.kubectl("wait", "-n", client, "--for=condition=Ready", "pod/dns-client", "--timeout=120s")
    assert connects(cluster, client, "dns-client", "kubernetes.default:443")  # resolved, then reached
    with pytest.raises(CommandFailed, match="DNS"):  # a name the cluster does not have is not resolved
        cluster.kubectl("exec", "-n", client, "dns-client", "--", "/agnhost", "connect", "no-such-service.default:443")


def test_a_claim_on_the_default_storage_class_binds_and_a_pod_writes_to_it(cluster, namespaces):
    storage = namespaces[2]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": storage},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(claim))
    pod(cluster, "writer", storage, ["mounttest", "--new_file_0644=/data/proof"], {"claim": "data", "path": "/data"})
    cluster.kubectl("wait", "-n", storage, "--for=jsonpath={.status.phase}=Succeeded", "pod/writer", "--timeout=180s")
    bound = json.loads(cluster.kubectl("get", "pvc", "-n", storage, "data", "-o", "json"))
    assert bound["status"]["phase"] == "Bound"
    assert bound["spec"]["storageClassName"] == "standard"  # kind's default class, not named in the claim
    volume = json.loads(cluster.kubectl("get", "pv", bound["spec"]["volumeName"], "-o", "json"))
    folder = volume["spec"]["hostPath"]["path"]
    assert folder.startswith("/var/local-path-provisioner/")
    assert cluster.on_node("cat", f"{folder}/proof") == "mount-tester new file\n"


def test_network_policies_are_enforced(cluster, namespaces):
    client, server = namespaces[0], namespaces[1]
    pod(cluster, "server", server, ["netexec", "--http-port=8080"])
    pod(cluster, "client", client, ["pause"])
    for namespace, name in ((server, "server"), (client, "client")):
        cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=120s")
    address = cluster.kubectl("get", "pod", "-n", server, "server", "-o", "jsonpath={.status.podIP}") + ":8080"

    assert eventually(lambda: connects(cluster, client, "client", address), True), "no policy: A reaches B"

    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny-ingress", "namespace": server},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(deny))
    assert not eventually(lambda: connects(cluster, client, "client", address), False), "default deny: A is blocked"

    allow = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-client", "namespace": server},
        "spec": {
            "podSelector": {"matchLabels": {"app": "server"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": client}}}],
                    "ports": [{"protocol": "TCP", "port": 8080}],
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(allow))
    assert eventually(lambda: connects(cluster, client, "client", address), True), "allow policy: A reaches B again"
