"""Preflight: each missing or too-old tool gets one line that says how to install it."""

from __future__ import annotations

import os
import stat

import pytest

from services.deploy.preflight import KIND_TOOLS, check_tools, parse_version, run_version


def fake_tools(tmp_path, outputs: dict[str, tuple[int, str]]):
    """Executables on a private PATH that print a canned version and exit with a canned code."""
    for name, (code, text) in outputs.items():
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\necho '{text}'\nexit {code}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(tmp_path)


def check_with_path(path: str):
    import shutil

    return check_tools(KIND_TOOLS, which=lambda name: shutil.which(name, path=path))


GOOD = {
    "docker": (0, "27.3.1"),
    "kind": (0, "kind v0.27.0 go1.23.4 linux/amd64"),
    "pulumi": (0, "v3.272.0"),
    "kubectl": (0, '{"clientVersion": {"gitVersion": "v1.35.0"}}'),
}


def test_all_tools_present_and_new_enough_means_no_problems(tmp_path):
    assert check_with_path(fake_tools(tmp_path, GOOD)) == []


def test_missing_tools_each_get_one_line_with_install_hint(tmp_path):
    path = fake_tools(tmp_path, {"docker": GOOD["docker"], "kubectl": GOOD["kubectl"]})
    problems = [str(p) for p in check_with_path(path)]
    assert len(problems) == 2
    assert problems[0].startswith("kind: not found on PATH; install kind >= 0.24")
    assert problems[1].startswith("pulumi: not found on PATH; install the Pulumi CLI")


def test_kind_older_than_0_24_is_rejected_for_missing_networkpolicy_support(tmp_path):
    path = fake_tools(tmp_path, {**GOOD, "kind": (0, "kind v0.23.0 go1.22 linux/amd64")})
    problems = [str(p) for p in check_with_path(path)]
    assert problems == [
        "kind: version 0.23.0 is older than 0.24; install kind >= 0.24 (NetworkPolicy support): "
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    ]


def test_docker_client_without_a_daemon_is_reported_as_daemon_unreachable(tmp_path):
    path = fake_tools(tmp_path, {**GOOD, "docker": (1, "Cannot connect to the Docker daemon")})
    problems = [str(p) for p in check_with_path(path)]
    assert problems == [
        "docker: the Docker daemon is not reachable; start Docker (or check that your user may use it: `docker info`)"
    ]


def test_unparseable_version_is_reported(tmp_path):
    path = fake_tools(tmp_path, {**GOOD, "pulumi": (0, "dev build")})
    assert [p.tool for p in check_with_path(path)] == ["pulumi"]


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("kind v0.27.0 go1.23.4", (0, 27, 0)),
        ("v3.272.0", (3, 272, 0)),
        ("27.3", (27, 3)),
        ("none", None),
    ],
)
def test_parse_version(text, version):
    assert parse_version(text) == version


def test_run_version_reports_a_missing_binary_as_failure():
    code, _ = run_version(os.devnull + "-nope", ("--version",))
    assert code != 0


def test_mlplat_up_lists_every_missing_tool_and_exits_2(tmp_path, monkeypatch, capsys):
    from services.cli import main

    monkeypatch.setenv("PATH", fake_tools(tmp_path, {"kubectl": GOOD["kubectl"]}))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-toolchain"))  # nor built by `make toolchain`
    assert main(["up", "--target", "kind"]) == 2
    err = capsys.readouterr().err
    for tool in ("docker", "kind", "pulumi"):
        assert f"  - {tool}: not found on PATH" in err


def test_auto_target_is_kind_only_when_every_kind_tool_is_usable(monkeypatch):
    from blueprints import load
    from services.deploy.target import Deployment
    from services.deploy.targets import KindTarget, for_up

    deployment = Deployment("foundation", load("foundation"))

    def choose_target(requested: str, problems: list[str]) -> str:
        monkeypatch.setattr(KindTarget, "preflight", lambda self: problems)
        target, why_not_kind = for_up(requested, deployment)
        assert why_not_kind == (problems if requested == "auto" and target.name == "standalone" else [])
        return target.name

    assert choose_target("auto", []) == "kind"
    assert choose_target("auto", ["kind: not found on PATH"]) == "standalone"
    assert choose_target("kind", ["kind: not found on PATH"]) == "kind"  # explicit target: fail loudly instead
    assert choose_target("standalone", []) == "standalone"
