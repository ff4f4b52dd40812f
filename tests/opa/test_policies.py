"""The controls as Rego, checked by the pinned OPA itself: they compile strictly, are formatted, pass
their `opa test` cases, name the controls the catalogue lists, and their tests catch a broken rule."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from policies.compliance.controls import CONTROLS
from services.compliance.opa import POLICY_DIR
from services.engine.toolchain import load_pins


def _opa(opa: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(opa), *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False)


def test_opa_is_the_pinned_release(opa):
    assert f"Version: {load_pins()['opa'].version}\n" in _opa(opa, "version").stdout


def test_the_controls_compile_strictly_and_are_formatted(opa):
    checked = _opa(opa, "check", "--strict", str(POLICY_DIR))
    assert checked.returncode == 0, checked.stderr
    unformatted = _opa(opa, "fmt", "--list", str(POLICY_DIR))
    assert unformatted.stdout.strip() == "", f"run `opa fmt -w policies/compliance`: {unformatted.stdout}"


def test_opa_test_passes_every_case_of_every_control(opa):
    done = _opa(opa, "test", "--format=json", str(POLICY_DIR))
    results = json.loads(done.stdout)
    failed = [f"{r['package']}.{r['name']}" for r in results if r.get("fail") or r.get("error")]
    assert done.returncode == 0 and failed == [], failed
    per_package = Counter(r["package"].removeprefix("data.compliance_test.") for r in results)
    for control in CONTROLS:  # at least a case per check, besides the world where everything passes
        assert per_package[control.package] > len(control.checks), (control.package, per_package)
    assert per_package["report"] >= 8 and len(results) >= 90


def test_the_rego_controls_are_the_catalogues(opa):
    query = "[c.control | some c in data.compliance.controls; c.control]"
    done = _opa(opa, "eval", "--format=json", "--data", str(POLICY_DIR), query)
    found = json.loads(done.stdout)["result"][0]["expressions"][0]["value"]
    expected = [{"id": c.id, "framework": c.framework, "reference": c.reference, "title": c.title} for c in CONTROLS]
    assert sorted(found, key=lambda c: c["id"]) == sorted(expected, key=lambda c: c["id"])


def test_a_broken_control_fails_its_own_tests(opa, tmp_path):
    broken = tmp_path / "compliance"
    shutil.copytree(POLICY_DIR, broken, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rule = broken / "soc2_cc6_1.rego"
    text = rule.read_text()
    assert text.count("\tnot lib.default_deny(tenant.name)\n") == 1
    rule.write_text(text.replace("\tnot lib.default_deny(tenant.name)\n", "\tfalse\n"))
    done = _opa(opa, "test", str(broken))
    assert done.returncode != 0
    assert "test_a_tenant_without_default_deny_is_a_finding: FAIL" in done.stdout
