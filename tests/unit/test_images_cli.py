"""`mlplat images`: what `list` prints, and usage errors that stop `build` before anything runs."""

from __future__ import annotations

import pytest

from blueprints import load
from infra import images as pins
from services.cli import main
from services.images import docker


@pytest.fixture
def no_docker(monkeypatch):
    """Any docker command fails the test: usage errors must stop the build before one runs."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"docker ran: {args}")

    monkeypatch.setattr(docker, "docker", refuse)
    monkeypatch.setattr(docker, "run_logged", refuse)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["images", "build", "--only", "nginx"], "--only: no image named nginx; choose from: postgres, prometheus"),
        (["images", "build", "--only", ","], "--only: no image named"),
        (["images", "build", "--ca-file", "/no/such/ca.pem"], "--ca-file: /no/such/ca.pem is not a file"),
        (["images", "build", "--mirror", "http://localhost:5001"], "mirror 'http://localhost:5001' is not a registry"),
        (["images", "list", "--blueprint", "no-such-blueprint"], "no-such-blueprint"),
    ],
)
def test_usage_errors_name_the_fix_without_a_traceback(argv, message, capsys, monkeypatch, no_docker):
    monkeypatch.delenv("MLPLAT_BUILD_CA_FILE", raising=False)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err


def test_an_extra_ca_file_without_a_certificate_is_refused(tmp_path, capsys, monkeypatch, no_docker):
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    monkeypatch.setenv("MLPLAT_BUILD_CA_FILE", str(not_pem))
    assert main(["images", "build", "--no-push"]) == 2
    assert "MLPLAT_BUILD_CA_FILE" in capsys.readouterr().err


def test_a_subcommand_is_required(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["images"])
    assert exit.value.code == 2 and "list" in capsys.readouterr().err


def test_list_names_every_image_the_blueprint_runs_and_the_kind_path_and_how_each_is_built(capsys, no_docker):
    assert main(["images", "list", "--blueprint", "foundation"]) == 0
    out = capsys.readouterr().out
    for ref in (pins.POSTGRES, pins.PROMETHEUS, pins.GRAFANA, pins.GATEWAY, pins.REGISTRY, pins.METRICS_SERVER):
        assert ref in out
    assert load("foundation").platform.image.ref in out
    assert "kindest/node:" in out
    assert "not built" in out.split(pins.GRAFANA, 1)[1].splitlines()[1]
    assert "mlops-platform/busybox:bookworm (plays quay.io/prometheus/busybox)" in out


def test_build_without_a_reachable_docker_daemon_says_so(capsys, monkeypatch):
    import subprocess

    monkeypatch.delenv("MLPLAT_BUILD_CA_FILE", raising=False)
    monkeypatch.setattr(docker, "docker", lambda *args, **kw: subprocess.CompletedProcess(args, 1, "", "no daemon"))
    assert main(["images", "build", "--only", "registry"]) == 1
    assert "the Docker daemon is not reachable" in capsys.readouterr().err
