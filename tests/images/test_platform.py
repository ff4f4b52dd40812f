"""The platform image runs as 10001 on a read-only root with /tmp as its only writable place."""

from __future__ import annotations

from infra import images as pins

UID = pins.PLATFORM_UID


def test_the_cli_and_the_model_server_load_as_10001_on_a_read_only_root(image, run_as_pod):
    ref = image("platform")
    cli = run_as_pod(ref, UID, args=["mlplat", "--help"], scratch=("/tmp",), detach=False)
    assert cli.returncode == 0 and "images" in cli.stdout, cli.stderr
    code = "import services.model_server.app, mlflow, sklearn; print('ok')"
    server = run_as_pod(ref, UID, args=["python", "-c", code], scratch=("/tmp",), detach=False)
    assert server.stdout.strip() == "ok", server.stderr
