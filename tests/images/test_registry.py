"""The registry built from distribution's module accepts a push and serves the image back."""

from __future__ import annotations

import subprocess


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def test_a_pushed_image_is_pulled_back_identical(image, run_as_pod):
    # A registry of its own on a free port (not the kind-registry of `mlplat images build`), as root like
    # upstream's image; the image pushed is the static base, built here and a few MB.
    registry = run_as_pod(image("registry"), 0, scratch=("/var/lib/registry",), ports=(5000,))
    registry.get(5000, "/v2/")
    from services.images.catalog import BASES

    static = next(base for base in BASES if base.name == "static").ref
    _ = image("kube-state-metrics")  # builds the static base on the way
    target = f"localhost:{registry.port(5000)}/test/static:1"
    original = _docker("image", "inspect", "-f", "{{.Id}}", static).stdout.strip()
    assert _docker("tag", static, target).returncode == 0
    pushed = _docker("push", target)
    assert pushed.returncode == 0, pushed.stderr
    assert _docker("rmi", target).returncode == 0
    pulled = _docker("pull", target)
    assert pulled.returncode == 0, pulled.stderr
    assert _docker("image", "inspect", "-f", "{{.Id}}", target).stdout.strip() == original
    assert '"test/static"' in registry.get(5000, "/v2/_catalog")
    _docker("rmi", target)
