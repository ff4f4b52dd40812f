"""Every workload of the deployed blueprint runs, with real containers, under restricted Pod Security."""

from __future__ import annotations

import json

from blueprints.naming import MONITORING_NAMESPACE, SYSTEM_NAMESPACE

PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "pod-security-probe"},
    "spec": {"containers": [{"name": "c", "image": "busybox:1.37.0", "securityContext": {"privileged": True}}]},
}


def test_every_deployment_and_statefulset_of_the_platform_is_ready(cluster, tenant, served_model):
    namespaces = {SYSTEM_NAMESPACE, MONITORING_NAMESPACE, tenant.name}
    items = [
        i for i in cluster.get("deployments,statefulsets", "-A")["items"] if i["metadata"]["namespace"] in namespaces
    ]
    names = {f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in items}
    assert {
        f"{SYSTEM_NAMESPACE}/mlflow",
        f"{SYSTEM_NAMESPACE}/mlflow-db",
        f"{MONITORING_NAMESPACE}/prometheus",
    } <= names
    assert f"{tenant.name}/{served_model.name}" in names
    short = {
        f"{i['kind']} {i['metadata']['namespace']}/{i['metadata']['name']}": (
            i["status"].get("readyReplicas", 0),
            i["spec"]["replicas"],
        )
        for i in items
        if i["status"].get("readyReplicas", 0) < i["spec"]["replicas"] or i["spec"]["replicas"] == 0
    }
    assert short == {}, f"not ready (ready, desired): {short}"


def test_the_platform_and_tenant_namespaces_enforce_the_restricted_pod_security_level(cluster, tenant):
    for namespace in (SYSTEM_NAMESPACE, MONITORING_NAMESPACE, tenant.name):
        labels = cluster.get("namespace", namespace)["metadata"]["labels"]
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", namespace
        refused = cluster.kubectl(
            "-n", namespace, "apply", "--dry-run=server", "-f", "-", input=json.dumps(PRIVILEGED_POD), check=False
        )
        assert "violates PodSecurity" in refused and "restricted:" in refused, refused


def test_no_platform_container_restarts_while_the_platform_runs(cluster, tenant):
    """A crash-looping container can still count as ready between its crashes: none may restart now."""
    namespaces = (SYSTEM_NAMESPACE, MONITORING_NAMESPACE, tenant.name)

    def restarts() -> dict[str, int]:
        counts = {}
        for namespace in namespaces:
            for pod in cluster.get("-n", namespace, "pods")["items"]:
                if pod["status"].get("phase") == "Running":
                    for status in pod["status"].get("containerStatuses", []):
                        counts[f"{namespace}/{pod['metadata']['name']}/{status['name']}"] = status["restartCount"]
        return counts

    import time

    before = restarts()
    time.sleep(60)  # longer than every liveness probe's failure window
    after = restarts()
    grew = {name: (before[name], count) for name, count in after.items() if name in before and count > before[name]}
    assert grew == {}, f"containers restarted during the minute (before, after): {grew}"


def test_a_pod_on_latest_is_denied_by_admission_in_the_tenant_namespace_and_its_pinned_twin_admitted(cluster, tenant):
    """The platform's ValidatingAdmissionPolicy on the real API server: Pod Security does not look at tags,
    so only the image-pinned rule can refuse this pod, with its own message."""
    import yaml

    from policies.admission.policies import rule_of_denial
    from tests.policies.corpus import bad_cases

    case = next(c for c in bad_cases() if c.name == "bad/image-pinned--pod-latest")
    documents = case.documents(namespace=tenant.name)

    def dry_run(docs: list[dict]) -> str:
        return cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(docs), check=False)

    denied = dry_run(documents)
    assert rule_of_denial(denied) == "image-pinned", denied
    documents[0]["spec"]["containers"][0]["image"] = "ghcr.io/example/web:1.0.0"
    admitted = dry_run(documents)
    assert "created (server dry run)" in admitted, admitted
