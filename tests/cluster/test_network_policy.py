"""NetworkPolicy, enforced by the node's kube-router: what a tenant's pod may reach, and who may reach its models.

The foundation blueprint has one tenant, so "another tenant's model server" cannot be tried from a
second tenant's namespace; the same rule is checked from the other side: a pod outside the tenant's
namespace (in `default`, which has no policy of its own) cannot reach the tenant's model server, while
the gateway can (every answer through the NodePort is that path). With the multi-tenant blueprint
deployed (MLPLAT_CLUSTER_BLUEPRINT=multi-tenant), the second tenant's model server is tried directly.

Every "unreachable" has a control beside it: the same address is reached from a pod that is allowed to,
so a refusal is the policy's doing, not a wrong name or a server that is down.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE, Ports
from tests.cluster.conftest import GATEWAY, http_status

# Runs in the probe pod: each check is a DNS lookup or a TCP connection with a short timeout. First it
# waits for kube-router to have programmed its rules for the new pod: measured here, during about its first
# second a new pod's egress is open and its peers refuse it (kube-router syncs on the pod's start). It
# waits until `settle` (a target this pod must reach) opens, or a few seconds when there is none.
PROBE = textwrap.dedent(
    """
    import json, socket, sys, time
    def once(host, port):
        try:
            address = socket.gethostbyname(host)
        except OSError as exc:
            return f"no DNS answer: {exc}"
        if port is None:
            return "resolved"
        try:
            socket.create_connection((address, port), timeout=4).close()
            return "open"
        except OSError as exc:
            return f"closed: {exc}"
    targets, settle = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    if settle:
        deadline = time.monotonic() + 30
        while once(*settle) != "open" and time.monotonic() < deadline:
            time.sleep(0.5)
    else:
        time.sleep(5)
    print(json.dumps({f"{h}:{p}": once(h, p) for h, p in targets}))
    """
)


def probe(cluster, namespace: str, template: dict, targets: list, settle: tuple | None = None, bare=False) -> dict:
    command = ["python", "-c", PROBE, json.dumps(targets), json.dumps(settle)]
    log = cluster.run_pod(namespace, "network-probe", template, command, bare=bare)
    return json.loads(log.strip().splitlines()[-1])


def service(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


@pytest.fixture(scope="module")
def tenant_pod(cluster, tenant):
    """A pod the platform itself starts in the tenant's namespace: its batch job's."""
    if not tenant.batch:
        pytest.skip(f"tenant {tenant.name} has no batch job whose pod template the probe could use")
    return cluster.pod_template(tenant.name, tenant.batch[0].name)


def test_a_tenant_pod_reaches_dns_its_own_model_server_and_the_registry(cluster, tenant, tenant_pod, served_model):
    reached = probe(
        cluster,
        tenant.name,
        tenant_pod,
        [
            ("kubernetes.default.svc.cluster.local", None),
            (service(served_model.name, tenant.name), Ports.MODEL_SERVER),
            (service("mlflow", SYSTEM_NAMESPACE), Ports.MLFLOW),
        ],
        settle=(service(served_model.name, tenant.name), Ports.MODEL_SERVER),  # at most 30 s: then checked
    )
    assert set(reached.values()) <= {"resolved", "open"}, reached


def test_a_tenant_pod_reaches_neither_the_platform_database_nor_monitoring_nor_the_trigger(
    cluster, tenant, tenant_pod, served_model
):
    closed = {
        (service("mlflow-db", SYSTEM_NAMESPACE), Ports.POSTGRES): "the registry's database",
        (service("prometheus", MONITORING_NAMESPACE), Ports.PROMETHEUS): "Prometheus",
        (service("training-trigger", SYSTEM_NAMESPACE), Ports.TRAINING_TRIGGER): "the training trigger",
    }
    own = (service(served_model.name, tenant.name), Ports.MODEL_SERVER)  # refused until the pod's rules are in
    reached = probe(cluster, tenant.name, tenant_pod, list(closed), settle=own)
    opened = {what for (host, port), what in closed.items() if reached[f"{host}:{port}"] == "open"}
    assert opened == set(), f"a tenant pod reached {opened}: {reached}"
    assert all(r.startswith("closed") for r in reached.values()), reached  # resolved, then refused

    # the control: the registry's server reaches its database at that address
    control = cluster.kubectl(
        "-n",
        SYSTEM_NAMESPACE,
        "exec",
        "deploy/mlflow",
        "--",
        "python",
        "-c",
        f"import socket; socket.create_connection(('{service('mlflow-db', SYSTEM_NAMESPACE)}', {Ports.POSTGRES}),"
        " timeout=4).close(); print('open')",
    )
    assert control.strip() == "open"


def test_a_pod_outside_the_tenant_namespace_cannot_reach_its_model_server(cluster, tenant, tenant_pod, served_model):
    target = (service(served_model.name, tenant.name), Ports.MODEL_SERVER)
    reached = probe(cluster, "default", tenant_pod, [target], bare=True)
    assert reached[f"{target[0]}:{target[1]}"].startswith("closed"), reached
    # the control: the gateway, in the platform's namespace, reaches it (the route of every NodePort answer)
    assert http_status(f"{GATEWAY}/{tenant.name}/{served_model.name}/v2/health/live") == 200


def test_a_tenant_pod_cannot_reach_another_tenants_model_server(cluster, blueprint, tenant, tenant_pod, served_model):
    others = [(t, m) for t in blueprint.tenants[1:] for m in t.models]
    if not others:
        pytest.skip(
            f"blueprint {blueprint.metadata.name} has one tenant: isolation from outside the namespace is "
            "checked by test_a_pod_outside_the_tenant_namespace_cannot_reach_its_model_server"
        )
    other, model = others[0]
    target = (service(model.name, other.name), Ports.MODEL_SERVER)
    own = (service(tenant.models[0].name, tenant.name), Ports.MODEL_SERVER)
    reached = probe(cluster, tenant.name, tenant_pod, [target], settle=own)
    assert reached[f"{target[0]}:{target[1]}"].startswith("closed"), reached
