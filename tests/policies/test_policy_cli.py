"""`mlplat policy check` and `mlplat policy config`, as a user runs them: the table, the exit code,
and a specific message (never a traceback) for every kind of bad input."""

from __future__ import annotations

import json

import pytest

from services.cli import main
from tests.policies.corpus import CASES_DIR

BAD = CASES_DIR / "bad"
GOOD = CASES_DIR / "good"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["policy", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_a_mandatory_violation_prints_the_table_and_exits_1(capsys):
    code, out, _ = _run(capsys, "check", str(BAD / "no-privileged--pod.yaml"))
    header, row, summary = out.splitlines()
    assert header.split() == ["RESOURCE", "RULE", "LEVEL", "MESSAGE"]
    assert row.split()[:4] == [f"{BAD / 'no-privileged--pod.yaml'}#1", "Pod/web", "no-privileged", "mandatory"]
    assert summary == "1 object(s) in 1 file(s), deploy rules: 1 mandatory, 0 advisory violation(s)"
    assert code == 1


def test_a_folder_of_good_manifests_passes_and_exits_0(capsys):
    code, out, _ = _run(capsys, "check", str(GOOD))
    assert code == 0
    assert out.strip().endswith("deploy rules: no violations")


def test_advisory_violations_are_reported_but_do_not_fail(capsys, tmp_path):
    blueprint = tmp_path / "bp.yaml"
    text = (CASES_DIR.parents[2] / "blueprints" / "multi-tenant.yaml").read_text()
    blueprint.write_text(text.replace("required-labels: advisory", "image-pinned: advisory"))
    code, out, _ = _run(capsys, "check", str(BAD / "image-pinned--pod-latest.yaml"), "--blueprint", str(blueprint))
    assert code == 0
    assert "image-pinned  advisory" in out


def test_the_cel_engine_evaluates_the_admission_policies(capsys):
    code, out, _ = _run(capsys, "check", "--engine", "cel", str(BAD / "no-host-path--pod.yaml"))
    assert code == 1
    assert "[no-host-path] node-logs: volume mounts a hostPath" in out
    assert "not checked by --engine cel: tenant-quota, tenant-limit-range" in out


def test_the_cel_engine_does_not_see_what_admission_cannot_express(capsys):
    code, out, _ = _run(capsys, "check", "--engine", "cel", str(BAD / "tenant-quota--missing.yaml"))
    assert code == 0
    code, _, _ = _run(capsys, "check", str(BAD / "tenant-quota--missing.yaml"))
    assert code == 1


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n", "line 4, column 1: not valid YAML"),
        ("- just\n- a list\n", "#1: not a Kubernetes object (a list, not a mapping)"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "#1: not a Kubernetes object: kind missing"),
        ("kind: List\napiVersion: v1\nitems:\n- {kind: Pod, metadata: {name: x}}\n", "#1.items[0]: not a Kubernetes"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n---\nhello\n", "#2: not a Kubernetes object (a str"),
    ],
)
def test_a_file_that_is_not_kubernetes_yaml_is_named_with_the_problem(capsys, tmp_path, content, error):
    path = tmp_path / "x.yaml"
    path.write_text(content)
    code, _, err = _run(capsys, "check", str(path))
    assert code == 2
    assert f"{path}" in err and error in err


def test_a_path_that_does_not_exist_is_named(capsys, tmp_path):
    code, _, err = _run(capsys, "check", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert f"{tmp_path / 'nope.yaml'}: no such file or folder" in err


def test_a_folder_without_yaml_is_named(capsys, tmp_path):
    code, _, err = _run(capsys, "check", str(tmp_path))
    assert code == 2
    assert f"{tmp_path}: no .yaml or .yml files in this folder" in err


def test_every_problem_is_reported_at_once(capsys, tmp_path):
    (tmp_path / "a.yaml").write_text("kind: [\n")
    (tmp_path / "b.yaml").write_text("- 1\n")
    code, _, err = _run(capsys, "check", str(tmp_path), str(tmp_path / "missing"))
    assert code == 2
    assert len(err.strip().splitlines()) == 3


def test_an_unknown_engine_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["policy", "check", "--engine", "opa", str(GOOD)])
    assert exit_.value.code == 2
    assert "invalid choice: 'opa' (choose from deploy, cel)" in capsys.readouterr().err.replace(
        "'deploy', 'cel'", "deploy, cel"
    )


def test_a_broken_blueprint_is_reported_with_its_field(capsys, tmp_path):
    blueprint = tmp_path / "bp.yaml"
    text = (CASES_DIR.parents[2] / "blueprints" / "multi-tenant.yaml").read_text()
    blueprint.write_text(text.replace("required-labels: advisory", "required-label: advisory"))
    code, _, err = _run(capsys, "check", str(GOOD), "--blueprint", str(blueprint))
    assert code == 2
    assert "platform.policy.enforcement: unknown rule 'required-label': did you mean 'required-labels'?" in err


def test_policy_config_prints_the_pack_config_for_a_blueprint(capsys):
    code, out, _ = _run(capsys, "config", "multi-tenant")
    assert code == 0
    assert json.loads(out)["required-labels"] == {"enforcementLevel": "advisory"}


def test_policy_config_writes_a_file(capsys, tmp_path):
    target = tmp_path / "build" / "policy-config.json"
    code, out, _ = _run(capsys, "config", "enterprise", "--out", str(target))
    assert code == 0
    assert json.loads(target.read_text())["no-privileged"] == {"enforcementLevel": "mandatory"}
    assert str(target) in out


def test_policy_config_of_an_unknown_blueprint_says_what_to_give(capsys):
    code, _, err = _run(capsys, "config", "no-such-blueprint")
    assert code == 2
    assert "no such blueprint: give a shipped name" in err
