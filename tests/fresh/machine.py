"""The fresh machine: the README's quick start, run verbatim on a Debian that has only its prerequisites.

`make test-fresh` is how the project tests its own first five minutes. In a container made from a Debian
bookworm root file system holding nothing but what the README lists as prerequisites (git, make, Python 3
and sudo, on debootstrap's smallest variant), it runs the quick start's own lines, read from README.md:
`git clone <this repository> mlops-platform && cd mlops-platform`, then `make test`. Twice:
- `root`: as root in /root (mode 700, as in a dev container);
- `user`: as an unprivileged user in their home, with sudo as a developer's laptop has it (without a
  password prompt, since nobody is there to type one: the one liberty taken).
Each scenario gets a container of its own, removed afterwards; they run one after the other and the run
fails naming every scenario that failed, with its time.

What is tested is a commit, not the working tree: the commit (HEAD unless --rev names another) is put in
a git bundle, mounted read-only, and it is what `<this repository>` stands for. Uncommitted changes are
said to be left out. Nothing of this machine is mounted: no pip cache, no apt cache, no virtualenv, so
every package is downloaded as a newcomer's machine would download it.

The network is the one liberty a fresh machine on this network would also need. What the container gets
to reach package registries the way this machine does (see `network`), and nothing else:
- the extra CA of a TLS-inspecting proxy, given as for image builds (`--ca-file PEM` or
  MLPLAT_BUILD_CA_FILE, services/images/trust.py): a bundle of this machine's certificates plus that CA,
  mounted read-only, named by PIP_CERT (pip ships its own certificates and ignores the system's);
- the proxy variables (HTTP(S)_PROXY, NO_PROXY, either case) and pip's index variables (PIP_INDEX_URL,
  PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST) when they are set here;
- apt's proxy settings (Acquire::http(s)::Proxy) when this machine's apt has them, as an apt.conf file;
- the Debian mirror, MLPLAT_DEBIAN_MIRROR (the image's apt sources name it; services/images/rootfs.py).
The container is on Docker's default bridge: its own loopback, so the servers the tests start cannot
meet this machine's. Building the base image (once, cached by its inputs) needs debootstrap and root.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.images import docker, rootfs
from services.images.trust import BuildTrust, TrustError

__all__ = ["FRESH", "SCENARIOS", "Network", "Scenario", "main", "network", "quick_start", "scenario_script"]

ROOT = Path(__file__).resolve().parents[2]
# The README's prerequisites ("git, make and Python 3.11+ (and, as a user other than root, sudo)"), as
# Debian packages; bookworm's python3 is 3.11. Nothing else: python3-venv and the servers the tests use
# are what `make test` must install itself.
FRESH = rootfs.Rootfs("fresh", ("git", "make", "python3", "sudo"))
BUNDLE = "/srv/mlops-platform.bundle"  # what `<this repository>` stands for inside the container
CA_BUNDLE = "/etc/mlplat-fresh/ca-certificates.crt"
APT_PROXY_CONF = "/etc/apt/apt.conf.d/90mlplat-fresh-proxy"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
PIP_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")

Log = Callable[[str], None]
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class FreshError(RuntimeError):
    """The fresh machine could not be prepared (image, bundle, container); the message says what to do."""


@dataclass(frozen=True)
class Scenario:
    """Who runs the quick start, and where."""

    name: str
    user: str
    home: str
    setup: str  # run as root before the quick start: how the machine's owner made the account


SCENARIOS = (
    Scenario("root", "root", "/root", "chmod 700 /root"),
    Scenario(
        "user",
        "dev",
        "/home/dev",
        "useradd --create-home --shell /bin/bash dev && chmod 700 /home/dev"
        " && echo 'dev ALL=(ALL:ALL) NOPASSWD: ALL' >/etc/sudoers.d/dev && chmod 440 /etc/sudoers.d/dev",
    ),
)


@dataclass(frozen=True)
class Network:
    """How the container reaches package registries: environment variables and read-only files."""

    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # path in the container -> content

    def describe(self) -> str:
        parts = [f"{key}={value}" for key, value in sorted(self.env.items())]
        parts += [f"{path} (read-only)" for path in sorted(self.files)]
        return ", ".join(parts) or "nothing (direct access)"


def quick_start(readme: str) -> tuple[str, str]:
    """The clone line and `make test`, exactly as the README's quick start writes them (comments dropped).

    `make up` is the README's other line; it serves the platform until stopped, so it is not run here."""
    section = readme.split("## Quick start", 1)[-1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    lines = [line.split("#", 1)[0].strip() for line in (block.group(1) if block else "").splitlines()]
    clone = next((line for line in lines if line.startswith("git clone ")), None)
    if clone is None or "make test" not in lines:
        raise FreshError("README.md: the quick start's bash block has no `git clone ...` line or no `make test` line")
    return clone, "make test"


def scenario_script(readme: str, bundle: str = BUNDLE) -> str:
    """The shell script a scenario runs: the quick start's lines, `<this repository>` being the bundle."""
    clone, test = quick_start(readme)
    return "set -e\n" + clone.replace("<this repository>", shlex.quote(bundle)) + "\n" + test + "\n"


def network(environ: Mapping[str, str], trust: BuildTrust, ca_bundle: Path | None, apt_config: str) -> Network:
    """What to forward from this machine: see the module docstring. `apt_config` is `apt-config dump`."""
    env = {key: environ[key] for key in (*PROXY_VARS, *PIP_VARS) if environ.get(key)}
    files: dict[str, str] = {}
    if trust and ca_bundle is not None:
        env["PIP_CERT"] = CA_BUNDLE
        files[CA_BUNDLE] = ca_bundle.read_text(encoding="ascii", errors="replace")
    if environ.get("MLPLAT_DEBIAN_MIRROR"):
        env["MLPLAT_DEBIAN_MIRROR"] = environ["MLPLAT_DEBIAN_MIRROR"]
    proxies = [line for line in apt_config.splitlines() if re.match(r"Acquire::https?::Proxy[ :]", line)]
    if proxies:
        files[APT_PROXY_CONF] = "\n".join(proxies) + "\n"
    return Network(env, files)


def _apt_config() -> str:
    """This machine's apt configuration (`apt-config dump`), or "" without apt."""
    if shutil.which("apt-config") is None:
        return ""
    done = subprocess.run(["apt-config", "dump"], capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else ""


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


def make_bundle(rev: str, folder: Path) -> tuple[str, Path]:
    """(commit, bundle file): the commit alone on a branch `main`, as a clone from the project's host sees it."""
    commit = _git("-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}")
    bare = folder / "repository.git"
    _git("init", "--quiet", "--bare", str(bare))
    _git("-C", str(bare), "fetch", "--quiet", str(ROOT), f"{commit}:refs/heads/main")
    _git("-C", str(bare), "symbolic-ref", "HEAD", "refs/heads/main")
    bundle = folder / "mlops-platform.bundle"
    _git("-C", str(bare), "bundle", "create", "--quiet", str(bundle), "HEAD", "main")
    bundle.chmod(0o644)
    return commit, bundle


def _stream(argv: Sequence[str], prefix: str) -> int:
    """Run argv with its output printed line by line behind `prefix`; its exit code. Of a line redrawn
    with carriage returns (progress counters on a tty), what a terminal would end up showing; colours
    dropped."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    for raw in process.stdout:
        shown = [part for part in raw.rstrip(b"\r\n").split(b"\r") if part]
        line = _ANSI.sub("", shown[-1].decode(errors="replace")) if shown else ""  # colours: not for a log
        print(f"{prefix} {line}", flush=True)
    return process.wait()


def run_scenario(scenario: Scenario, image: str, bundle: Path, net: Network, script: str, folder: Path) -> int:
    """One scenario in a container of its own (removed afterwards); the quick start's exit code."""
    name = f"mlplat-fresh-{scenario.name}-{os.getpid()}"
    mounts = ["-v", f"{bundle}:{BUNDLE}:ro"]
    for index, (path, content) in enumerate(sorted(net.files.items())):
        host = folder / f"file-{index}"
        host.write_text(content, encoding="utf-8")
        host.chmod(0o644)
        mounts += ["-v", f"{host}:{path}:ro"]
    try:
        docker.docker("run", "--detach", "--init", "--name", name, *mounts, image, "sleep", "infinity")
        setup = docker.docker("exec", name, "bash", "-c", scenario.setup, check=False)
        if setup.returncode != 0:
            reason = (setup.stderr or setup.stdout).strip()
            raise FreshError(f"{scenario.name}: setting up the machine failed: {reason}")
        env = [part for key, value in sorted(net.env.items()) for part in ("-e", f"{key}={value}")]
        # as in a terminal: a tty (programs stream their output as they go) and a login shell (/etc/profile
        # sets the user's PATH)
        argv = ["docker", "exec", "--tty", "--user", scenario.user, "--workdir", scenario.home, *env, name]
        return _stream([*argv, "bash", "--login", "-c", script], f"[{scenario.name}]")
    finally:
        docker.docker("rm", "--force", "--volumes", name, check=False)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make test-fresh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default="HEAD", help="the commit to test (default: HEAD; never the working tree)")
    parser.add_argument("--scenario", choices=[s.name for s in SCENARIOS], action="append", help="only these")
    parser.add_argument("--ca-file", help="PEM of a TLS-inspecting proxy's CA [$MLPLAT_BUILD_CA_FILE]")
    args = parser.parse_args(argv)
    # stopped (CI's timeout, kill): unwind, so the scenario's container is removed as on Ctrl-C
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    log: Log = lambda line: print(f"[fresh] {line}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        trust = BuildTrust.from_option(args.ca_file)
    except TrustError as exc:
        log(str(exc))
        return 2
    if shutil.which("docker") is None or docker.docker("info", check=False).returncode != 0:
        log("make test-fresh runs containers: install Docker and start it (`docker info` must answer)")
        return 2
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    script = scenario_script((ROOT / "README.md").read_text(encoding="utf-8"))
    results: list[tuple[Scenario, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="mlplat-fresh-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)
        try:
            image = rootfs.ensure(FRESH, trust, log)
            commit, bundle = make_bundle(args.rev, folder)
        except (rootfs.RootfsError, subprocess.CalledProcessError, docker.DockerError) as exc:
            log(f"preparing the fresh machine failed: {getattr(exc, 'stderr', '') or exc}")
            return 2
        net = network(os.environ, trust, trust.bundle(folder / "trust"), _apt_config())
        dirty = _git("-C", str(ROOT), "status", "--porcelain", "--untracked-files=no")
        log(f"testing commit {commit} ({_git('-C', str(ROOT), 'log', '-1', '--format=%s', commit)[:80]})")
        if dirty:
            log("uncommitted changes in this checkout are NOT tested: commit them to test them")
        log(f"image {image} ({', '.join(FRESH.packages)}); network: {net.describe()}")
        log("each scenario runs:\n" + script)
        for scenario in chosen:
            log(f"scenario {scenario.name}: as {scenario.user} in {scenario.home}")
            started = time.monotonic()
            try:
                code = run_scenario(scenario, image, bundle, net, script, folder)
            except (FreshError, docker.DockerError) as exc:
                log(str(exc))
                code = 2
            results.append((scenario, code, time.monotonic() - started))
            verdict = "passed" if code == 0 else f"FAILED (exit {code})"
            log(f"scenario {scenario.name}: {verdict} in {_minutes(results[-1][2])}")
    docker.docker("image", "prune", "--force", check=False)
    return _report(commit, results, trust, log)


def _report(commit: str, results: Sequence[tuple[Scenario, int, float]], trust: BuildTrust, log: Log) -> int:
    """Each scenario's verdict and time; 1 when any failed, naming them."""
    log(f"commit {commit[:12]}:")
    for scenario, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (exit {code})"
        log(f"  {scenario.name:5} as {scenario.user} in {scenario.home}: {verdict} in {_minutes(seconds)}")
    failed = [scenario.name for scenario, code, _ in results if code != 0]
    if not failed:
        return 0
    log(f"make test-fresh failed: {', '.join(failed)}")
    if not trust:  # the usual cause of pip's CERTIFICATE_VERIFY_FAILED in the container
        log("no extra CA was given: behind a TLS-inspecting proxy, name its CA with MLPLAT_BUILD_CA_FILE")
    return 1


if __name__ == "__main__":
    sys.exit(main())
