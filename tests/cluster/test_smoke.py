"""Smoke test against a running kind deployment (`make up`, then `make test-cluster`).

Skipped unless the platform's NodePorts answer on localhost: this is the only test that needs a
real cluster, and it runs in .github/workflows/e2e-kind.yml. Locally: `make up` on a machine with
Docker, then `make test-cluster`.
"""

from __future__ import annotations

import time
import urllib.request

import httpx
import pytest
from mlflow.tracking import MlflowClient

from blueprints.naming import NodePorts
from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules
from tests.services.mlflow_fixtures import IRIS_COLUMNS, register_iris

MLFLOW = f"http://localhost:{NodePorts.MLFLOW}"
GATEWAY = f"http://localhost:{NodePorts.GATEWAY}"
PROMETHEUS = f"http://localhost:{NodePorts.PROMETHEUS}"
TENANT, MODEL = "forecasting", "demand"  # a tenant and model of the multi-tenant blueprint (the dev stack)


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _reachable(f"{MLFLOW}/health"), reason="no kind deployment on localhost (run `make up` with Docker first)"
)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_register_promote_serve_through_the_gateway_and_see_metrics(tmp_path):
    version = register_iris(
        MLFLOW, MODEL, alias=None, tags={"owner": "ci", "training_data_digest": "sha256:iris", "code_version": "smoke"}
    )
    client = MlflowClient(MLFLOW)
    client.update_model_version(MODEL, version, description="smoke-test model")
    registry.approve(client, MODEL, version, "reviewer")
    decision = promote(client, load_rules(), AuditLog(tmp_path / "audit.jsonl"), MODEL, version, "champion")
    assert decision.passed and decision.moved, decision.table()

    endpoint = f"{GATEWAY}/{TENANT}/{MODEL}"

    def served_version():
        try:
            response = httpx.post(
                f"{endpoint}/invocations",
                timeout=5,
                json={"dataframe_split": {"columns": IRIS_COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}},
            )
        except httpx.HTTPError:
            return None
        return response.headers.get("x-model-version") if response.status_code == 200 else None

    assert _wait(served_version, 300, "the champion to be served through the gateway") == version

    def scraped():
        response = httpx.get(
            f"{PROMETHEUS}/api/v1/query", params={"query": f'mlplat_requests_total{{model="{MODEL}"}}'}
        )
        return response.json()["data"]["result"]

    series = _wait(scraped, 120, "Prometheus to scrape the model server")
    assert series[0]["metric"]["tenant"] == TENANT


def test_a_policy_violating_pod_is_denied_by_admission_in_a_tenant_namespace():
    """The admission gate on the real cluster: a Pod on the `latest` tag (which Pod Security does not
    look at, so only the platform's ValidatingAdmissionPolicy can refuse it) is denied in a tenant
    namespace with the image-pinned rule's message; the same Pod pinned is admitted (dry runs)."""
    import subprocess

    from policies.admission.policies import rule_of_denial
    from tests.policies.corpus import bad_cases

    case = next(c for c in bad_cases() if c.name == "bad/image-pinned--pod-latest")
    document = case.documents(namespace=TENANT)

    def dry_run(documents: list[dict]) -> subprocess.CompletedProcess:
        import yaml

        argv = ["kubectl", "--context", "kind-mlops", "apply", "--dry-run=server", "-f", "-"]
        return subprocess.run(argv, input=yaml.safe_dump_all(documents), capture_output=True, text=True, check=False)

    denied = dry_run(document)
    assert denied.returncode != 0, denied.stdout
    assert rule_of_denial(denied.stderr) == "image-pinned", denied.stderr
    pinned = [{**document[0], "spec": {**document[0]["spec"]}}]
    pinned[0]["spec"]["containers"] = [{**document[0]["spec"]["containers"][0], "image": "ghcr.io/example/web:1.0.0"}]
    admitted = dry_run(pinned)
    assert admitted.returncode == 0, admitted.stderr
