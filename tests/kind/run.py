"""`make test-kind`: the kind layer from a machine with nothing running to a machine with nothing left.

    docker      Docker and debootstrap installed (apt-get docker.io debootstrap, as root) and Docker running
                (dockerd started here when no daemon answers); where Docker cannot start privileged
                containers, the runc wrapper registered as its runtime (tests/kind_node/runc_bounded.py)
    toolchain   `mlplat toolchain`: Pulumi, the Kubernetes provider, kind and kubectl (cached)
    clean       a platform left running from before is taken down (`mlplat down --keep-registry`): the
                node tests' cluster maps the same host ports, and `up` is measured from no cluster
    node        tests/kind_node: the node image built here boots a cluster of its own (DNS, storage,
                NetworkPolicy), deleted afterwards
    up          `mlplat up --target kind --blueprint foundation` from no cluster: the images (pulled, or
                built here and served from the local registry), the cluster, `pulumi up`, every pod Ready
    measure     the node's memory in use with the platform running, the disk the images and caches take
    cluster     tests/cluster, with MLPLAT_CLUSTER_TESTS=1: a missing cluster fails instead of skipping
    demo        `mlplat demo --target kind`: train, gate, serve, batch, drift alert, retrain, challenger
    down        `mlplat down`: `pulumi destroy`, the cluster deleted, the registry removed (unless
                --keep-registry); then nothing of the kind path may be left

Each phase's time is printed and written, with the measurements, to build/kind-run.json. A failing phase
stops the run, but `down` still runs (unless --keep-cluster), so a failed run leaves nothing behind either.

    .venv/bin/python -m tests.kind.run [--skip node] [--keep-registry] [--keep-cluster]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BLUEPRINT = "foundation"
RUNTIME = Path("/usr/local/libexec/mlops-platform/runc-bounded")
DAEMON_JSON = Path("/etc/docker/daemon.json")
PHASES = ("docker", "toolchain", "clean", "node", "up", "measure", "cluster", "demo", "down")
MEMORY_TARGET = 4 * 2**30
PACKAGES = {"docker": "docker.io", "debootstrap": "debootstrap"}  # command -> the Debian package that has it


class PhaseFailed(RuntimeError):
    pass


def say(line: str) -> None:
    print(f"[test-kind] {line}", flush=True)


def run(*argv: str, env: dict[str, str] | None = None, check: bool = True, capture: bool = False) -> str:
    """A command with its output streamed (or captured); PhaseFailed naming it when it fails."""
    say("$ " + " ".join(argv))
    done = subprocess.run(
        argv, cwd=ROOT, env={**os.environ, **(env or {})}, text=True, capture_output=capture, check=False
    )
    if check and done.returncode != 0:
        raise PhaseFailed(f"`{' '.join(argv)}` exited {done.returncode}" + (f":\n{done.stderr}" if capture else ""))
    return (done.stdout or "") if capture else ""


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


# --- docker -----------------------------------------------------------------------------------------
def ensure_docker() -> dict:
    """Install Docker when missing, register the runc wrapper when the host needs it, start dockerd."""
    # docker.io is the engine; debootstrap makes the base images when nothing can be pulled (docs/air-gapped.md)
    missing = [package for command, package in PACKAGES.items() if shutil.which(command) is None]
    if missing:
        if os.geteuid() != 0:
            raise PhaseFailed(f"not installed, and this is not root: {', '.join(missing)} (Debian); install and rerun")
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing)
    notes = {"runtime": "runc"}
    if needs_bounded_runtime():
        notes["runtime"] = "runc-bounded"
        changed = install_bounded_runtime()
        if changed and docker_answers():
            pid = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True, check=False).stdout.split()
            if pid:
                os.kill(int(pid[0]), 1)  # SIGHUP: dockerd reloads its runtimes, containers keep running
                time.sleep(2)
    if not docker_answers():
        if os.geteuid() != 0:
            raise PhaseFailed("Docker does not answer and this is not root: start the Docker daemon and rerun")
        log = open("/var/log/dockerd.log", "ab")  # noqa: SIM115 - dockerd outlives this process
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while not docker_answers():
            if time.monotonic() > deadline:
                raise PhaseFailed("dockerd did not answer within 60 s: read /var/log/dockerd.log")
            time.sleep(1)
        notes["started"] = "dockerd (log: /var/log/dockerd.log)"
    notes["version"] = run("docker", "version", "--format", "{{.Server.Version}}", capture=True).strip()
    return notes


def needs_bounded_runtime() -> bool:
    """Docker gives privileged containers every capability; runc fails when the host's bounding set lacks one."""
    sys.path.insert(0, str(ROOT))
    from tests.kind_node import runc_bounded

    return runc_bounded.bounding_set() != (1 << len(runc_bounded.CAPABILITIES)) - 1


def install_bounded_runtime() -> bool:
    """tests/kind_node/runc_bounded.py as Docker's default runtime; True when something changed."""
    source = ROOT / "tests" / "kind_node" / "runc_bounded.py"
    changed = False
    if not RUNTIME.exists() or RUNTIME.read_bytes() != source.read_bytes():
        RUNTIME.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, RUNTIME)
        RUNTIME.chmod(0o755)
        changed = True
    config = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    wanted = {"runtimes": {**config.get("runtimes", {}), "runc-bounded": {"path": str(RUNTIME)}}}
    wanted["default-runtime"] = "runc-bounded"
    if {k: config.get(k) for k in wanted} != wanted:
        DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
        DAEMON_JSON.write_text(json.dumps({**config, **wanted}))
        changed = True
    return changed


# --- measurements -------------------------------------------------------------------------------------
def node_memory(container: str) -> dict:
    """The node container's memory in use (what `docker stats` shows: usage without the page cache)."""
    usage = run("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container, capture=True).strip()
    cgroup = Path("/sys/fs/cgroup/memory/docker")
    inspect = run("docker", "inspect", "--format", "{{.Id}}", container, capture=True).strip()
    stat = cgroup / inspect / "memory.stat"
    detail = {}
    if stat.exists():
        values = dict(line.split() for line in stat.read_text().splitlines())
        detail = {k: int(values[k]) for k in ("total_rss", "total_cache", "total_inactive_file") if k in values}
    return {"docker_stats": usage, "cgroup": detail}


def disk() -> dict:
    cache = Path.home() / ".cache" / "mlops-platform"
    sizes = {}
    for path in sorted(cache.iterdir()) if cache.is_dir() else []:
        done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            sizes[path.name] = int(done.stdout.split()[0])
    docker = run("docker", "system", "df", "--format", "{{.Type}}\t{{.Size}}\t{{.Reclaimable}}", capture=True)
    return {"cache_bytes": sizes, "docker": docker.strip().splitlines()}


def leftovers(keep_registry: bool) -> list[str]:
    """What of the kind path still exists: clusters, node containers, the registry (unless kept)."""
    from services.images.registry import CONTAINER, VOLUME

    kind = str(tool("kind"))
    left = [f"kind cluster {c}" for c in run(kind, "get", "clusters", capture=True).split()]
    nodes = run("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--format", "{{.Names}}", capture=True)
    left += [f"node container {n}" for n in nodes.split()]
    if not keep_registry:
        if subprocess.run(["docker", "container", "inspect", CONTAINER], capture_output=True).returncode == 0:
            left.append(f"registry container {CONTAINER}")
        if subprocess.run(["docker", "volume", "inspect", VOLUME], capture_output=True).returncode == 0:
            left.append(f"registry volume {VOLUME}")
    return left


def tool(name: str) -> str:
    sys.path.insert(0, str(ROOT))
    from services.deploy.tools import tool as find

    return find(name)


# --- the run ------------------------------------------------------------------------------------------
@dataclass
class Run:
    skip: set[str]
    keep_registry: bool
    keep_cluster: bool
    report: dict = field(default_factory=lambda: {"phases": {}, "blueprint": BLUEPRINT})

    def phase(self, name: str, body: Callable[[], object]) -> None:
        if name in self.skip:
            say(f"--- {name}: skipped (--skip)")
            self.report["phases"][name] = "skipped"
            return
        say(f"--- {name}")
        started = time.monotonic()
        try:
            result = body()
        finally:
            seconds = round(time.monotonic() - started, 1)
            self.report["phases"][name] = seconds
            say(f"--- {name}: {seconds:.0f}s")
        if result:
            self.report[name] = result

    def main(self) -> int:
        env = {"MLPLAT_BUILD_CA_FILE": os.environ.get("MLPLAT_BUILD_CA_FILE", "")}
        env = {k: v for k, v in env.items() if v}
        mlplat = str(BIN / "mlplat")
        started, failure = time.monotonic(), None
        try:
            self.phase("docker", ensure_docker)
            self.phase("toolchain", lambda: run(mlplat, "toolchain", env=env))
            self.phase("clean", self.clean)  # first: the node tests' cluster maps the same host ports
            self.phase(
                "node",
                lambda: run(
                    str(BIN / "python"), "-m", "pytest", "tests/kind_node", "-rs", env={**env, "MLPLAT_KIND_TESTS": "1"}
                ),
            )
            self.phase("up", lambda: run(mlplat, "up", "--target", "kind", "--blueprint", BLUEPRINT, env=env))
            self.phase("measure", self.measure)
            self.phase(
                "cluster",
                lambda: run(
                    str(BIN / "python"),
                    "-m",
                    "pytest",
                    "tests/cluster",
                    "-rs",
                    "-v",
                    env={**env, "MLPLAT_CLUSTER_TESTS": "1", "MLPLAT_CLUSTER_BLUEPRINT": BLUEPRINT},
                ),
            )
            self.phase("demo", lambda: run(mlplat, "demo", "--target", "kind", "--blueprint", BLUEPRINT))
        except (PhaseFailed, KeyboardInterrupt) as exc:
            failure = str(exc) or type(exc).__name__
            say(f"FAILED: {failure}")
        if not self.keep_cluster:
            try:
                self.phase("down", self.down)
            except PhaseFailed as exc:
                failure = failure or str(exc)
                say(f"FAILED: {exc}")
        self.report["total_seconds"] = round(time.monotonic() - started, 1)
        self.report["failed"] = failure
        self.write()
        return 1 if failure else 0

    def clean(self) -> dict | None:
        """`up` is measured from no cluster: a platform left running is taken down first (its registry kept)."""
        sys.path.insert(0, str(ROOT))
        from services.deploy.targets.kind import kind_config_cluster_name

        if kind_config_cluster_name() not in run(tool("kind"), "get", "clusters", capture=True).split():
            return None
        run(str(BIN / "mlplat"), "down", "--target", "kind", "--blueprint", BLUEPRINT, "--keep-registry")
        return {"removed": f"the running cluster {kind_config_cluster_name()!r} (registry kept)"}

    def measure(self) -> dict:
        sys.path.insert(0, str(ROOT))
        from services.deploy.targets.kind import kind_config_cluster_name

        memory = node_memory(f"{kind_config_cluster_name()}-control-plane")
        used = memory["cgroup"].get("total_rss")
        say(f"node memory in use: {memory['docker_stats']} (docker stats: usage without the page cache)")
        if used is not None:
            verdict = "within" if used <= MEMORY_TARGET else "OVER"
            say(f"node memory, processes' resident set: {used / 2**30:.2f} GiB ({verdict} the 4 GiB target)")
        taken = disk()
        for name, size in taken["cache_bytes"].items():
            say(f"disk: ~/.cache/mlops-platform/{name}: {size / 2**30:.2f} GiB")
        for line in taken["docker"]:
            say(f"disk: docker {line}")
        return {"node_memory": memory, "disk": taken}

    def down(self) -> dict:
        argv = [str(BIN / "mlplat"), "down", "--target", "kind", "--blueprint", BLUEPRINT]
        run(*argv, *(["--keep-registry"] if self.keep_registry else []))
        left = leftovers(self.keep_registry)
        if left:
            raise PhaseFailed(f"left behind after `mlplat down`: {', '.join(left)}")
        return {"left": []}

    def write(self) -> None:
        out = ROOT / "build" / "kind-run.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(self.report, indent=1) + "\n")
        say(
            "phase times: "
            + ", ".join(f"{k} {v}s" if v != "skipped" else f"{k} skipped" for k, v in self.report["phases"].items())
        )
        say(f"total {self.report['total_seconds']:.0f}s; report: {out.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.kind.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip", action="append", default=[], choices=PHASES, help="leave a phase out (repeatable)")
    parser.add_argument("--keep-registry", action="store_true", help="keep the local registry and its images")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the platform running (no `down`)")
    args = parser.parse_args(argv)
    return Run(set(args.skip), args.keep_registry, args.keep_cluster).main()


if __name__ == "__main__":
    sys.exit(main())
