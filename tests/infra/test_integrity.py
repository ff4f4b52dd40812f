"""The wiring holds for every shipped blueprint, and each check provably catches its breakage."""

from __future__ import annotations

import pytest

from tests.infra.conftest import find
from tests.infra.integrity import CHECKS


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_integrity_check_holds(check, manifests):
    assert CHECKS[check](manifests) == []


def _deployment(manifests, namespace="mlops-system", name="mlflow"):
    return find(manifests, "Deployment", name, namespace)


def _break_service_selector(manifests):
    find(manifests, "Service", "mlflow", "mlops-system")["spec"]["selector"]["app.kubernetes.io/name"] = "mlfow"
    return "Service/mlops-system/mlflow: selector"


def _break_workload_selector(manifests):
    hpa = next(m for m in manifests if m["kind"] == "HorizontalPodAutoscaler")
    hpa["spec"]["scaleTargetRef"]["name"] = "gone"
    return "scaleTargetRef Deployment/gone does not exist"


def _break_reference(manifests):
    pod = _deployment(manifests)["spec"]["template"]["spec"]
    pod["volumes"][0]["persistentVolumeClaim"]["claimName"] = "missing-claim"
    return "references PersistentVolumeClaim 'missing-claim'"


def _break_probe_port(manifests):
    container = _deployment(manifests)["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["port"] = "metrics"
    return "readinessProbe port 'metrics' is not a container port"


def _break_target_port(manifests):
    find(manifests, "Service", "mlflow", "mlops-system")["spec"]["ports"][0]["targetPort"] = 5001
    return "targetPort 5001 is not a port of the selected pods"


def _break_isolation(manifests):
    deny = next(m for m in manifests if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == "default-deny-all")
    deny["spec"]["policyTypes"] = ["Ingress"]
    return "has no default-deny NetworkPolicy for ingress and egress"


def _duplicate(manifests):
    manifests.append(dict(find(manifests, "ConfigMap", "prometheus-config")))
    return "ConfigMap/mlops-monitoring/prometheus-config: declared 2 times"


def _drop_label(manifests):
    del find(manifests, "Service", "mlflow", "mlops-system")["metadata"]["labels"]["app.kubernetes.io/part-of"]
    return "Service/mlops-system/mlflow: missing labels ['app.kubernetes.io/part-of']"


BREAKAGES = {
    "service-selectors": _break_service_selector,
    "workload-selectors": _break_workload_selector,
    "references": _break_reference,
    "ports": _break_probe_port,
    "tenant-isolation": _break_isolation,
    "unique": _duplicate,
    "standard-labels": _drop_label,
}


def test_every_check_has_a_breakage_test():
    assert set(BREAKAGES) == set(CHECKS)


@pytest.mark.parametrize("check", sorted(BREAKAGES))
def test_integrity_check_catches_a_broken_manifest(check, manifests):
    expected = BREAKAGES[check](manifests)
    problems = CHECKS[check](manifests)
    assert any(expected in problem for problem in problems), problems


def test_ports_check_catches_a_service_target_port_that_no_container_has(manifests):
    expected = _break_target_port(manifests)
    assert any(expected in problem for problem in CHECKS["ports"](manifests))
