"""Serving benchmark: this model server against `mlflow models serve` and Seldon MLServer.

One scikit-learn LogisticRegression trained on iris is registered in a temporary MLflow; each server
serves it with one worker process and metrics enabled; wrk (Debian) drives each at concurrency 8 and
64 with 1-row and 100-row payloads. Printed: req/s, p50, p99 and the ratios against the peers
measured in the same run, plus the ceiling (a bare ASGI echo on the same uvicorn stack) and the
memory check (RSS after 100k requests vs after 1k).

    make bench                      # or: .venv/bin/python benchmarks/serving.py [--duration 8]

MLServer is installed on first use into .mlplat/bench/peers-venv (its pins conflict with MLflow's).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services.mlflow_fixtures import (  # noqa: E402 - the same fixtures the tests use
    IRIS_COLUMNS,
    free_port,
    iris_data,
    register_iris,
    start_mlflow,
    wait_http,
)

PEERS_VENV = ROOT / ".mlplat" / "bench" / "peers-venv"
SERVE = [sys.executable, "-m", "services.cli", "serve"]
MLSERVER_VERSION = "1.7.1"
# MLServer 1.7.1's parallel workers call asyncio.get_event_loop() in a fresh process, which uvloop
# 0.22+ refuses: pin the last uvloop it works with, or its default configuration cannot load a model.
MLSERVER_PINS = (f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}", "uvloop==0.21.0")


@dataclass
class Result:
    server: str
    api: str
    concurrency: int
    rows: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_peers_venv() -> Path:
    mlserver = PEERS_VENV / "bin" / "mlserver"
    if mlserver.exists():
        return mlserver
    import sklearn

    print(f"installing MLServer {MLSERVER_VERSION} into {PEERS_VENV} (first run only)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run(
        [
            str(PEERS_VENV / "bin" / "pip"),
            "install",
            "-q",
            *MLSERVER_PINS,
            f"scikit-learn=={sklearn.__version__}",
        ],
        check=True,
    )
    return mlserver


def bodies(tmp: Path) -> dict[tuple[str, int], Path]:
    x, _ = iris_data()
    out = {}
    for rows in (1, 100):
        batch = x[:rows].tolist()
        documents = {
            "invocations": {"dataframe_split": {"columns": IRIS_COLUMNS, "data": batch}},
            "v2": {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [rows, 4],
                        "datatype": "FP64",
                        "data": [v for row in batch for v in row],
                    }
                ]
            },
        }
        for api, document in documents.items():
            path = tmp / f"{api}-{rows}.json"
            path.write_text(json.dumps(document))
            out[api, rows] = path
    return out


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(
    url: str, body: Path, concurrency: int, duration: int, headers: dict[str, str] | None = None
) -> tuple[float, float, float, int, int]:
    """(req/s, p50 ms, p99 ms, non-2xx count, total requests) from one wrk run; `headers`: CONTENT_TYPE
    and HEADER_LENGTH for wrk_post.lua."""
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(ROOT / "benchmarks" / "wrk_post.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BODY_FILE": str(body), **(headers or {})},
        check=False,
    )
    if done.returncode != 0 or "Requests/sec" not in done.stdout:
        print(f"  wrk failed against {url}: {done.stderr.strip() or done.stdout.strip()}", flush=True)
        return 0.0, float("nan"), float("nan"), 1, 0
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {q: float(v) * scale[u] for q, v, u in _LATENCY.findall(out)}
    errors = int(re.search(r"NON2XX (\d+)", out).group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return rps, lat.get("50", float("nan")), lat.get("99", float("nan")), errors, total


@contextlib.contextmanager
def process(
    command: list[str],
    ready_url: str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen]:
    # The venv's bin first: `mlflow models serve` execs `uvicorn` by name.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.Popen(
        command,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PATH": path, **(env or {})},
        cwd=cwd,
    )
    try:
        wait_http(ready_url, timeout, proc)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (uvicorn/MLServer may fork)."""
    total = 0
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    for one in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


@dataclass
class Bench:
    """What every server's measurement shares: the payloads, the wrk duration and the results so far."""

    files: dict[tuple[str, int], Path]
    duration: int
    results: list[Result] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=lambda: {"mlplat serve": 0})

    def measure(self, server: str, api: str, url: str, sizes: tuple[int, ...] = (1, 100)) -> None:
        for concurrency in (8, 64):
            for rows in sizes:
                body = self.files.get((api, rows), self.files["invocations", rows])
                rps, p50, p99, errors, total = wrk(url, body, concurrency, self.duration)
                self.served[server] = self.served.get(server, 0) + total
                self.results.append(Result(server, api, concurrency, rows, rps, p50, p99, errors))
                print(
                    f"  {server:<22} {api:<12} c={concurrency:<3} rows={rows:<4} {rps:>9.0f} req/s "
                    f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}",
                    flush=True,
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run [6]")
    parser.add_argument("--skip-mlserver", action="store_true", help="do not install or run MLServer")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmark needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mlplat-bench-"))
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at start; wrk -t1, {args.duration}s per run")
    registry = start_mlflow(tmp / "mlflow")
    try:
        version = register_iris(registry.uri, "iris", "champion")
        bench = Bench(bodies(tmp), args.duration)
        env = {"MLFLOW_TRACKING_URI": registry.uri, "MLPLAT_MODEL_CACHE": str(tmp / "cache")}
        rss = measure_ours(bench, tmp, env)
        batching = micro_batching(registry.uri, env, bench.files, args.duration)
        measure_mlflow_serve(bench, tmp, env, version)
        if not args.skip_mlserver:
            measure_mlserver(bench, tmp, registry.uri, version)
        measure_echo(bench, tmp)
    finally:
        registry.stop()
    report(bench.results, rss, bench.served["mlplat serve"])
    report_batching(batching)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def measure_ours(bench: Bench, tmp: Path, env: dict[str, str]) -> dict[str, int]:
    """This server on both APIs; its resident memory after 1k and after 100k requests."""
    import httpx

    port = free_port()
    rss: dict[str, int] = {}
    print("this server (mlplat serve, 1 worker, metrics on)")
    with process(
        [*SERVE, "models:/iris@champion", "--port", str(port), "--grpc-port", str(free_port())],
        f"http://127.0.0.1:{port}/v2/health/ready",
        tmp / "ours.log",
        env,
    ) as ours:
        url = f"http://127.0.0.1:{port}/invocations"
        body = bench.files["invocations", 1].read_bytes()
        with httpx.Client() as client:
            for _ in range(1000):
                client.post(url, content=body, headers={"content-type": "application/json"})
        rss["after 1k"] = rss_bytes(ours.pid)
        bench.served["mlplat serve"] = 1000
        bench.measure("mlplat serve", "invocations", url)
        bench.measure("mlplat serve", "v2", f"http://127.0.0.1:{port}/v2/models/iris/infer")
        while bench.served["mlplat serve"] < 100_000:
            bench.served["mlplat serve"] += wrk(url, bench.files["invocations", 1], 8, 5)[4]
        rss["after 100k"] = rss_bytes(ours.pid)
    return rss


def measure_mlflow_serve(bench: Bench, tmp: Path, env: dict[str, str], version: str) -> None:
    port = free_port()
    print("mlflow models serve --env-manager local (1 worker)")
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/iris/{version}"]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
    with process(command, f"http://127.0.0.1:{port}/ping", tmp / "mlflow-serve.log", env, timeout=180):
        bench.measure("mlflow models serve", "invocations", f"http://127.0.0.1:{port}/invocations")


def measure_mlserver(bench: Bench, tmp: Path, tracking_uri: str, version: str) -> None:
    """Seldon MLServer's sklearn runtime, with its default workers and with none."""
    mlserver = ensure_peers_venv()
    import joblib
    import mlflow.sklearn

    # The same fitted estimator, saved the way MLServer's sklearn runtime loads it (joblib).
    mlflow.set_tracking_uri(tracking_uri)
    estimator_file = tmp / "model.joblib"
    joblib.dump(mlflow.sklearn.load_model(f"models:/iris/{version}"), estimator_file)
    for label, workers in (("MLServer workers=0", 0), ("MLServer default", None)):
        repo = tmp / label.replace(" ", "-").replace("=", "")
        (repo / "iris").mkdir(parents=True)
        port, grpc, metrics_port = free_port(), free_port(), free_port()
        settings = {"http_port": port, "grpc_port": grpc, "metrics_port": metrics_port, "host": "127.0.0.1"}
        if workers is not None:
            settings["parallel_workers"] = workers
        (repo / "settings.json").write_text(json.dumps(settings))
        model = {
            "name": "iris",
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": str(estimator_file), "version": version},
        }
        (repo / "iris" / "model-settings.json").write_text(json.dumps(model))
        print(label)
        with process(
            [str(mlserver), "start", str(repo)],
            f"http://127.0.0.1:{port}/v2/models/iris/ready",
            tmp / f"{repo.name}.log",
            cwd=repo,  # MLServer writes its multiprocess metrics (.metrics/) into the working dir
            timeout=180,
        ):
            bench.measure(label, "v2", f"http://127.0.0.1:{port}/v2/models/iris/infer")


def measure_echo(bench: Bench, tmp: Path) -> None:
    """The ceiling: a bare ASGI echo on the same HTTP stack."""
    port = free_port()
    print("ceiling: bare ASGI echo on uvicorn + httptools + uvloop")
    command = [sys.executable, "-m", "uvicorn", "benchmarks.echo_app:app", "--port", str(port)]
    command += ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
    with process(command, f"http://127.0.0.1:{port}/", tmp / "echo.log"):
        bench.measure("echo", "echo", f"http://127.0.0.1:{port}/", sizes=(1,))


def micro_batching(tracking_uri: str, env: dict[str, str], files: dict, duration: int) -> list[Result]:
    """The micro-batching experiment, at concurrency 8 and 64 with 1-row requests, on a model that keeps
    scikit-learn's own predict (a StandardScaler + LogisticRegression pipeline is not compiled):
    the server with micro-batching (the default) and without (--max-batch-rows 0)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    register_iris(
        tracking_uri, "iris-pipeline", "champion", estimator=make_pipeline(StandardScaler(), LogisticRegression())
    )
    out = []
    print("micro-batching experiment (iris-pipeline: scikit-learn's own predict, not the compiled path)")
    for label, flags in (("batching on", []), ("batching off", ["--max-batch-rows", "0"])):
        port = free_port()
        command = [*SERVE, "models:/iris-pipeline@champion", "--port", str(port), "--grpc-port", str(free_port())]
        with process(
            [*command, *flags],
            f"http://127.0.0.1:{port}/v2/health/ready",
            Path(env["MLPLAT_MODEL_CACHE"]).parent / "batching.log",
            env,
        ):
            for concurrency in (8, 64):
                url = f"http://127.0.0.1:{port}/v2/models/iris-pipeline/infer"
                rps, p50, p99, errors, _ = wrk(url, files["v2", 1], concurrency, duration)
                out.append(Result(f"pipeline, {label}", "v2", concurrency, 1, rps, p50, p99, errors))
                print(
                    f"  {label:<13} c={concurrency:<3} {rps:>9.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                    f"errors {errors}",
                    flush=True,
                )
    return out


def report_batching(results: list[Result]) -> None:
    print("\n== Micro-batching (model with scikit-learn's own predict, 1-row requests) ==")
    print(f"{'variant':<28} {'conc':>4} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7}")
    for r in results:
        print(
            f"{r.server:<28} {r.concurrency:>4} {r.rps:>9.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
            + ("  ERRORS" if r.errors else "")
        )
    for concurrency in (8, 64):
        on, off = (
            next((r for r in results if r.server == f"pipeline, batching {s}" and r.concurrency == concurrency), None)
            for s in ("on", "off")
        )
        if on and off and off.rps:
            print(
                f"batching on / off at c={concurrency}: {on.rps / off.rps:.2f}x throughput, "
                f"p99 {on.p99_ms:.2f} vs {off.p99_ms:.2f} ms"
            )


def report(results: list[Result], rss: dict[str, int], served: int) -> None:
    def find(server: str, api: str, c: int, rows: int) -> Result | None:
        return next((r for r in results if (r.server, r.api, r.concurrency, r.rows) == (server, api, c, rows)), None)

    print("\n== Serving benchmark (one worker each) ==")
    print(
        f"{'server':<22} {'api':<12} {'conc':>4} {'rows':>4} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'vs mlflow':>9} {'vs MLSrv0':>9} {'vs MLSrvD':>9} {'vs echo':>8}"
    )
    for r in results:

        def ratio(peer: Result | None, mine: Result = r) -> str:
            return f"{mine.rps / peer.rps:8.1f}x" if peer and peer.rps else f"{'-':>9}"

        mlflow_peer = find("mlflow models serve", "invocations", r.concurrency, r.rows)
        echo = find("echo", "echo", r.concurrency, 1)
        print(
            f"{r.server:<22} {r.api:<12} {r.concurrency:>4} {r.rows:>4} {r.rps:>9.0f} {r.p50_ms:>7.2f} "
            f"{r.p99_ms:>7.2f} {ratio(mlflow_peer)} {ratio(find('MLServer workers=0', 'v2', r.concurrency, r.rows))} "
            f"{ratio(find('MLServer default', 'v2', r.concurrency, r.rows))} {ratio(echo)}"
            + ("  ERRORS" if r.errors else "")
        )
    if rss:
        growth = rss["after 100k"] / rss["after 1k"]
        print(
            f"\nRSS of mlplat serve: {rss['after 1k'] / 2**20:.1f} MiB after 1k requests, "
            f"{rss['after 100k'] / 2**20:.1f} MiB after {served:,} requests: {growth:.3f}x (target <= 1.10)"
        )


if __name__ == "__main__":
    sys.exit(main())
