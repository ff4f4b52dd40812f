"""The deploy-time and admission-time gates, for real: the Pulumi CLI runs the CrossGuard pack, and the
API server runs the platform's ValidatingAdmissionPolicies.

CrossGuard: `pulumi preview --policy-pack` with the blueprint's `--policy-pack-config` (from
`mlplat policy config`), the pack started by the CLI as an analyzer plugin (policies/deploy/plugin.py).
Admission: the Pulumi program deploys the policies and bindings (the foundation blueprint); every case of
the corpus is applied with `kubectl apply --dry-run=server` into a namespace carrying the tenant label.
A bad case whose rule admission can express must be denied with that rule's message; every other case
must be admitted. The offline CEL engine decides the same cases in tests/policies (the corpus's
`admission_rule`), so a difference here is a disagreement between the two engines, and the test names it.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from blueprints import load
from blueprints.naming import LABEL_TENANT
from policies.deploy.plugin import gate
from services.engine import sim
from tests.engine.conftest import REPORT, engine_for
from tests.policies.corpus import Case, cases, rule_of_denial

ROOT = Path(__file__).resolve().parents[2]
CORPUS_NAMESPACE = "policy-corpus"
ADMISSION: dict[str, str] = {}  # case -> "denied by <rule>" / "admitted", for the report


def _policy_args(blueprint: str | Path, folder: Path) -> dict:
    """What `mlplat up` passes the CLI: the pack as an executable plugin, with the blueprint's levels."""
    found = gate(load(blueprint, base=ROOT).platform.policy, folder / "policy")
    return {"policy_packs": [str(found.pack)], "policy_pack_configs": [str(found.config)]}


@pytest.mark.parametrize("blueprint", ["foundation", "multi-tenant", "enterprise"])
def test_crossguard_through_the_cli_passes_every_shipped_blueprint(blueprint, cluster, tmp_path):
    engine = engine_for(blueprint, cluster, tmp_path)
    result = engine.stack().preview(on_output=engine.output, color="never", **_policy_args(blueprint, tmp_path))
    assert result.change_summary.get("create", 0) > 0  # a fresh stack: every object was analysed
    # No exception: no mandatory violation (the CLI fails the preview on one). And the pack did run:
    assert "mlops-platform-guardrails" in engine.tail(400)


def test_crossguard_stops_a_blueprint_that_breaks_a_mandatory_rule_naming_it(cluster, tmp_path):
    data = yaml.safe_load((ROOT / "blueprints" / "foundation.yaml").read_text())
    data["platform"].setdefault("policy", {})["allowedRegistries"] = ["registry.example.com"]
    broken = tmp_path / "foundation-foreign-registries.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    engine = engine_for("foundation", cluster, tmp_path)
    stack = engine.stack(blueprint=broken)
    with pytest.raises(Exception) as refused:
        stack.preview(on_output=engine.output, color="never", **_policy_args(broken, tmp_path))
    assert type(refused.value).__module__.startswith("pulumi.automation")
    output = engine.tail(400) + str(refused.value)
    assert "allowed-registries" in output and "mandatory" in output


@pytest.fixture(scope="module")
def admission(cluster, tmp_path_factory):
    """The foundation blueprint deployed by `pulumi up` (its admission policies with it), and a namespace
    with the tenant label only: no Pod Security `restricted`, which would refuse some cases first."""
    engine = engine_for("foundation", cluster, tmp_path_factory.mktemp("stack-admission"))
    stack = engine.stack()
    stack.up(on_output=engine.output, color="never")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CORPUS_NAMESPACE}}
    namespace["metadata"]["labels"] = {LABEL_TENANT: CORPUS_NAMESPACE}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(namespace))
    probe = next(case for case in cases() if case.admission_rule == "no-privileged")
    deadline = time.monotonic() + 30
    while _apply(cluster, probe)[0] == 0:  # the policies reach the admission plugin within a second or two
        assert time.monotonic() < deadline, "the admission policies never started denying"
        time.sleep(0.5)
    yield
    cluster.kubectl("delete", "namespace", CORPUS_NAMESPACE, "--wait=true", "--timeout=120s")
    stack.destroy(on_output=engine.output, color="never")
    denied = sorted(k for k, v in ADMISSION.items() if v.startswith("denied"))
    REPORT["admission"] = {"cases": len(ADMISSION), "denied": len(denied), "admitted": len(ADMISSION) - len(denied)}


def _apply(cluster, case: Case) -> tuple[int, str]:
    document = yaml.safe_dump_all(case.documents(namespace=CORPUS_NAMESPACE), sort_keys=False)
    argv = [cluster.kubectl_bin, f"--kubeconfig={cluster.kubeconfig}", f"--context={sim.CONTEXT}"]
    argv += ["apply", "--dry-run=server", "-f", "-"]
    done = subprocess.run(argv, input=document, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_the_api_server_decides_each_corpus_case_as_its_rule_says(admission, cluster, case):
    code, output = _apply(cluster, case)
    decided = rule_of_denial(output) if code != 0 else None
    ADMISSION[case.name] = f"denied by {decided}" if code != 0 else "admitted"
    if case.admission_rule is None:
        assert code == 0, f"{case.name}: the offline engine admits it, the API server refused it:\n{output}"
    else:
        assert code != 0, (
            f"{case.name}: the offline engine denies it by {case.admission_rule}; the API server admitted it"
        )
        assert decided == case.admission_rule, f"{case.name}: denied, but not by {case.admission_rule}:\n{output}"


def test_in_a_real_tenant_namespace_a_pod_on_latest_is_denied_and_its_pinned_twin_admitted(admission, cluster):
    """What the kind layer checks on real containers (tests/cluster/test_workloads.py), on the namespace the
    program made: Pod Security `restricted`, the quota and the limit range in force, and the admission policies."""
    case = next(c for c in cases() if c.name == "bad/image-pinned--pod-latest")
    documents = case.documents(namespace="data-science")
    argv = [cluster.kubectl_bin, f"--kubeconfig={cluster.kubeconfig}", f"--context={sim.CONTEXT}"]
    argv += ["apply", "--dry-run=server", "-f", "-"]

    def dry_run(docs: list[dict]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, input=yaml.safe_dump_all(docs), capture_output=True, text=True, check=False)

    denied = dry_run(documents)
    assert denied.returncode != 0 and rule_of_denial(denied.stderr) == "image-pinned", denied.stderr
    documents[0]["spec"]["containers"][0]["image"] = "ghcr.io/example/web:1.0.0"
    admitted = dry_run(documents)
    assert admitted.returncode == 0, admitted.stderr
