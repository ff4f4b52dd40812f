"""Docker tests of the images built here: each one starts and keeps its official interface, run the way
its pods run it (the pod's UID and GID, a read-only root file system, every capability dropped, no
privilege escalation, emptyDir volumes as tmpfs, persistent volumes as host folders).

They run only when MLPLAT_KIND_TESTS=1 (the kind layer), on a machine with Docker; plain `make test`
collects nothing here. Images are built on first use through the same Builder as `mlplat images build`
(cached: a warm run builds nothing), with the extra CA of MLPLAT_BUILD_CA_FILE when it is set.
Every container is removed when its test ends, passed or failed.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

if os.environ.get("MLPLAT_KIND_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]  # the kind layer sets it; see the docstring


@dataclass
class Container:
    id: str

    def logs(self) -> str:
        done = subprocess.run(["docker", "logs", self.id], capture_output=True, text=True, check=False)
        return done.stdout + done.stderr

    def exec(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        flags = [part for key, value in (env or {}).items() for part in ("-e", f"{key}={value}")]
        return subprocess.run(["docker", "exec", *flags, self.id, *argv], capture_output=True, text=True, check=False)

    def port(self, container_port: int) -> int:
        out = subprocess.run(
            ["docker", "port", self.id, f"{container_port}/tcp"], capture_output=True, text=True, check=True
        ).stdout
        return int(out.splitlines()[0].rsplit(":", 1)[1])

    def running(self) -> bool:
        out = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", self.id], capture_output=True, text=True, check=False
        ).stdout
        return out.strip() == "true"

    def wait_log(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = self.logs()
            if text in logs:
                return logs
            if not self.running():
                break
            time.sleep(0.5)
        raise AssertionError(f"{text!r} not in the container's log within {timeout:.0f}s:\n{self.logs()[-3000:]}")

    def get(self, container_port: int, path: str, timeout: float = 60.0, expect: int = 200) -> str:
        """GET http://127.0.0.1:<published port><path> until it answers `expect`; the body."""
        url = f"http://127.0.0.1:{self.port(container_port)}{path}"
        deadline, last = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == expect:
                        return answer.read().decode("utf-8", "replace")
                    last = f"HTTP {answer.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code == expect:
                    return exc.read().decode("utf-8", "replace")
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            if not self.running():
                break
            time.sleep(0.5)
        raise AssertionError(f"GET {url}: {last} after {timeout:.0f}s; log:\n{self.logs()[-3000:]}")


@pytest.fixture(scope="session")
def image():
    """image(name) -> the local reference of that catalog image, built if needed."""
    from services.images.build import Builder
    from services.images.catalog import by_name, images_for
    from services.images.trust import BuildTrust

    builder = Builder(BuildTrust.from_option(None))
    catalog = images_for()
    built: dict[str, str] = {}

    def ensure(name: str) -> str:
        if name not in built:
            entry = by_name(catalog, name)
            builder.resolve_modules([entry])
            built[name] = builder.build(entry).ref
        return built[name]

    return ensure


@pytest.fixture
def run_as_pod() -> Iterator:
    """run_as_pod(ref, uid, gid, ...) starts a detached container as a restricted pod would run it."""
    started: list[str] = []

    def run(
        ref: str,
        uid: int,
        gid: int | None = None,
        *,
        args: Sequence[str] = (),
        entrypoint: str | None = None,
        env: dict[str, str] | None = None,
        volumes: Sequence[tuple[Path, str, bool]] = (),  # (host folder, mount path, read-only)
        scratch: Sequence[str] = (),  # emptyDir mount paths, as tmpfs owned by the pod's user
        ports: Sequence[int] = (),
        network: str | None = None,
        extra: Sequence[str] = (),
        detach: bool = True,
    ):
        gid = uid if gid is None else gid
        argv = ["docker", "run", "--read-only", "--user", f"{uid}:{gid}", "--cap-drop", "ALL"]
        argv += ["--security-opt", "no-new-privileges"]
        argv += ["-d"] if detach else ["--rm"]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        for host, path, read_only in volumes:
            argv += ["-v", f"{host}:{path}{':ro' if read_only else ''}"]
        for path in scratch:
            argv += ["--tmpfs", f"{path}:rw,uid={uid},gid={gid},mode=0770"]
        for port in ports:
            argv += ["-p", f"127.0.0.1::{port}"]
        if network:
            argv += ["--network", network]
        if entrypoint is not None:
            argv += ["--entrypoint", entrypoint]
        done = subprocess.run([*argv, *extra, ref, *args], capture_output=True, text=True, check=False)
        if not detach:
            return done
        assert done.returncode == 0, done.stderr
        started.append(done.stdout.strip())
        return Container(done.stdout.strip())

    yield run
    for container in started:
        subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True, check=False)


def handed_over(folder: Path, files: dict[str, str]) -> Path:
    """Files as a ConfigMap hands them to a pod: root-owned, world-readable (0644) in a 0755 folder,
    outside the checkout, so the image's own user reads them without any access to the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        (folder / name).chmod(0o644)
    return folder


def volume(folder: Path) -> Path:
    """A persistent volume as kind's local-path provisioner makes one: an empty folder anyone may write."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o777)
    return folder


def pod_volumes(manifests: list[dict], workload: dict, folder: Path) -> tuple[list[tuple[Path, str, bool]], list[str]]:
    """A workload's volumes as its first container mounts them: ConfigMaps and Secrets handed over as the
    kubelet hands them, persistent volume claims as empty writable folders; emptyDirs as scratch paths.
    Returns (volumes for run_as_pod, scratch paths)."""
    from tests.infra.conftest import find

    pod = workload["spec"]["template"]["spec"]
    namespace = workload["metadata"]["namespace"]
    sources = {source["name"]: source for source in pod.get("volumes", [])}
    volumes: list[tuple[Path, str, bool]] = []
    scratch: list[str] = []
    for mount in pod["containers"][0].get("volumeMounts", []):
        # A name without a pod volume is a StatefulSet's volumeClaimTemplate: a persistent volume too.
        source, path = sources.get(mount["name"], {"persistentVolumeClaim": {}}), mount["mountPath"]
        if "configMap" in source:
            data = find(manifests, "ConfigMap", source["configMap"]["name"], namespace)["data"]
            volumes.append((handed_over(folder / mount["name"], data), path, True))
        elif "secret" in source:
            secret = find(manifests, "Secret", source["secret"]["secretName"], namespace)
            volumes.append((handed_over(folder / mount["name"], dict(secret.get("stringData") or {})), path, True))
        elif "persistentVolumeClaim" in source:
            volumes.append((volume(folder / mount["name"]), path, False))
        elif "emptyDir" in source:
            scratch.append(path)
    # A mount inside another (/etc/prometheus/rules in /etc/prometheus) needs its mount point to exist in
    # the outer one: the kubelet makes it; here the outer folder is mounted read-only, so make it first.
    for host, outer, _ in volumes:
        for inner in [p for _, p, _ in volumes] + scratch:
            if inner.startswith(f"{outer}/"):
                (host / inner.removeprefix(f"{outer}/")).mkdir(parents=True, exist_ok=True)
    return volumes, scratch
