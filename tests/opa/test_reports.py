"""`mlplat compliance report` on every shipped blueprint, with the pinned OPA: the statuses each control
gets and why, the same answer from the OPA server the cluster runs, and the report with a real registry
and audit log (a version promoted through the gate, then one trained on an erased person's data)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from blueprints import SHIPPED, load
from infra.render import render_blueprint
from services.cli import main
from services.compliance import evidence
from services.compliance.erasure import RETRAIN_TAG
from services.compliance.opa import OpaCli, OpaServer, policy_files
from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules
from tests.services.mlflow_fixtures import free_port, mlflow_running, register_iris

# What each shipped blueprint's report says without a registry or an audit log, and why.
# Foundation, and the LLM and federated blueprints, which declare no personal data and no compliance
# settings either: alerts reach nobody and no check is scheduled (no platform.compliance), and the
# registry and the audit log were not read
_NO_PERSONAL_DATA = {
    "soc2-cc6.1": "pass",
    "soc2-cc7.2": "fail",
    "soc2-cc8.1": "unverified",
    **dict.fromkeys(("hipaa-164.312-a", "hipaa-164.312-b", "hipaa-164.312-e"), "not-applicable"),
    **dict.fromkeys(("gdpr-art5-1e", "gdpr-art17", "gdpr-art30", "gdpr-art32"), "not-applicable"),
}
EXPECTED = {
    "foundation": _NO_PERSONAL_DATA,
    "llm": _NO_PERSONAL_DATA,
    "federated": _NO_PERSONAL_DATA,
    "multi-tenant": {
        "soc2-cc6.1": "pass",
        "soc2-cc7.2": "fail",
        "soc2-cc8.1": "fail",  # required-labels is advisory: a change breaking it deploys
        **dict.fromkeys(("hipaa-164.312-a", "hipaa-164.312-b", "hipaa-164.312-e"), "not-applicable"),
        **dict.fromkeys(("gdpr-art5-1e", "gdpr-art17", "gdpr-art30", "gdpr-art32"), "not-applicable"),
    },
    "enterprise": {  # every control passes, or its gap is accepted by name, or it needs evidence not given
        "soc2-cc6.1": "pass",
        "soc2-cc7.2": "accepted",
        "soc2-cc8.1": "unverified",
        "hipaa-164.312-a": "pass",
        "hipaa-164.312-b": "unverified",
        "hipaa-164.312-e": "accepted",
        "gdpr-art5-1e": "pass",
        "gdpr-art17": "accepted",
        "gdpr-art30": "pass",
        "gdpr-art32": "accepted",
    },
}


def _report(capsys, tmp_path, *args: str) -> tuple[int, dict, str]:
    code = main(["compliance", "report", "--out", str(tmp_path / "out"), *args])
    out = capsys.readouterr().out
    framework = args[args.index("--framework") + 1]
    name = load(args[args.index("--blueprint") + 1]).metadata.name
    data = json.loads((tmp_path / "out" / f"{name}-{framework}.json").read_text())
    assert (tmp_path / "out" / f"{name}-{framework}.md").is_file()
    return code, data, out


@pytest.fixture(autouse=True)
def no_standalone_audit_log(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the default audit log (.mlplat/audit/...) is absent here


@pytest.mark.parametrize("name", SHIPPED)
def test_the_report_of_every_shipped_blueprint(capsys, tmp_path, name):
    code, data, out = _report(capsys, tmp_path, "--framework", "all", "--blueprint", name)
    assert {c["control"]["id"]: c["status"] for c in data["controls"]} == EXPECTED[name]
    assert code == (1 if "fail" in EXPECTED[name].values() else 0)
    assert data["counts"]["fail"] == list(EXPECTED[name].values()).count("fail")
    assert "SOC 2 CC6.1 Logical access security" in out
    for control in data["controls"]:  # a gap always says where it is and how to fix it
        assert all(f["object"] and f["fix"] for f in control["findings"])


def test_the_enterprise_blueprint_names_each_accepted_gap_with_its_reason(capsys, tmp_path):
    _, data, _ = _report(capsys, tmp_path, "--framework", "all", "--blueprint", "enterprise")
    markdown = (tmp_path / "out" / "enterprise-all.md").read_text()
    gaps = load("enterprise").platform.compliance.accepted_gaps
    for control in data["controls"]:
        if control["status"] == "accepted":
            accepted = {g.check for g in gaps if g.control == control["control"]["id"]}
            assert {f["check"] for f in control["findings"]} <= accepted
    for gap in gaps:
        assert f"`{gap.check}` accepted by {gap.owner} until {gap.until}: {gap.reason}" in markdown
    assert "| payments | customer_activity | fraud-prevention |" in markdown  # the Art. 30 record


@pytest.mark.parametrize(("framework", "count"), [("soc2", 3), ("hipaa", 3), ("gdpr", 4)])
def test_a_framework_report_holds_its_controls_only(capsys, tmp_path, framework, count):
    _, data, _ = _report(capsys, tmp_path, "--framework", framework, "--blueprint", "enterprise")
    assert len(data["controls"]) == count
    assert {c["control"]["framework"] for c in data["controls"]} == {framework}


def test_the_opa_server_the_cluster_runs_answers_as_opa_eval(opa, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(opa), "run", "--server", f"--addr=127.0.0.1:{port}", "--disable-telemetry", *map(str, policy_files())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "opa run --server did not start"
                time.sleep(0.2)
        blueprint = load("enterprise")
        document = evidence.document(
            blueprint,
            render_blueprint("enterprise", mask_secrets=True).manifests,
            framework="all",
            source="rendered",
            registry=evidence.not_read("none"),
            audit=evidence.not_read("none"),
            promotion=evidence.promotion_section(load_rules()),
        )
        assert OpaServer(f"http://127.0.0.1:{port}").evaluate(document) == OpaCli(opa).evaluate(document)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_with_the_registry_and_the_audit_log_every_served_version_is_traced_and_erased_data_fails(capsys, tmp_path):
    with mlflow_running(tmp_path / "mlflow") as mlflow:
        client, audit = registry.client(mlflow.uri), AuditLog(tmp_path / "audit.jsonl")
        version = register_iris(
            mlflow.uri,
            "risk-scorer",
            alias=None,
            tags={"owner": "payments", "training_data_digest": "sha256:1", "code_version": "test"},
        )
        client.update_model_version("risk-scorer", version, description="Risk scorer, for the compliance test.")
        registry.approve(client, "risk-scorer", version, "reviewer")
        assert promote(client, load_rules(), audit, "risk-scorer", version, "champion").passed
        where = ["--blueprint", "enterprise", "--registry", mlflow.uri, "--audit-log", str(audit.path)]

        code, data, _ = _report(capsys, tmp_path, "--framework", "soc2", *where)
        statuses = {c["control"]["id"]: c["status"] for c in data["controls"]}
        assert statuses["soc2-cc8.1"] == "pass" and code == 0  # served through the gate, audited, chain intact

        # the version turns out to be trained on an erased person's data, and it still serves
        client.set_model_version_tag(
            "risk-scorer", version, RETRAIN_TAG, "erasure 0123abcd: trained on an erased subject"
        )
        code, data, _ = _report(capsys, tmp_path, "--framework", "gdpr", *where)
        (art17,) = [c for c in data["controls"] if c["control"]["id"] == "gdpr-art17"]
        assert art17["status"] == "fail" and code == 1  # the clinical acceptance does not cover this check
        assert {f["check"] for f in art17["findings"]} == {"erasure-path", "erased-data-not-served"}

        lines = audit.path.read_text().splitlines()  # and a tampered audit log fails change management
        audit.path.write_text("\n".join(lines).replace('"decision": "pass"', '"decision": "fail"') + "\n")
        _, data, _ = _report(capsys, tmp_path, "--framework", "soc2", *where)
        (cc81,) = [c for c in data["controls"] if c["control"]["id"] == "soc2-cc8.1"]
        assert cc81["status"] == "fail" and "audit-log-intact" in {f["check"] for f in cc81["findings"]}
