"""Feature serving benchmark: Feast's own feature server against this model server, on one online store.

One PostgreSQL (a throwaway server, as the cluster runs it: the tenant's database made by its Job's
script), one Feast repository generated from the multi-tenant blueprint's `recsys` feature store, the
150 flowers materialized into it, and a LogisticRegression trained on the point-in-time-correct
historical features. Then, on the same machine, one worker each, wrk at concurrency 8:

  (a) `feast serve` (through `mlplat features serve`: one worker, no access log, no periodic worker
      restarts) answering get-online-features for one entity of the feature service;
  (b) `mlplat serve --features` answering a prediction (V2) from one entity key: the features read from
      the same online store, then the model's predict.

The two take turns, three rounds, and the best round of each is reported (the machine is shared).
Target: (b) at least (a)'s throughput, with a p99 at most (a)'s: a whole prediction costs less than
Feast's server takes to return the features alone.

    make bench        # or: .venv/bin/python benchmarks/features.py [--duration 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.serving import Result, process, wrk  # noqa: E402 - the serving benchmark's wrk driver
from tests.services.mlflow_fixtures import free_port, start_mlflow  # noqa: E402

TENANT, SERVICE, FLOWER = "recsys", "ranker_v1", 42


def prepare(tmp: Path, pg) -> tuple[Path, Path, str, str]:
    """(repo, serving spec file, online store URL, password): the store filled, as the cluster does it."""
    from blueprints import load
    from services.features import dataset
    from services.features.database import create_database
    from services.features.names import database
    from services.features.repo import cluster_store, feature_repo, write_repo
    from services.features.spec import feature_specs, specs_to_json

    tenant = load("multi-tenant").tenant(TENANT)
    password = "feature-benchmark-password"
    create_database(TENANT, password, pg.database("postgres").libpq_env())
    repo = write_repo(
        feature_repo(tenant, cluster_store(TENANT, "127.0.0.1", pg.port, str(tmp / "data"))), tmp / "repo"
    )
    (tmp / "data" / "flowers").mkdir(parents=True)
    dataset.measurements(datetime.now(UTC)).to_parquet(tmp / "data" / "flowers" / "measurements.parquet")
    # Feast expands ${FEAST_DB_PASSWORD} in feature_store.yaml: the subprocesses below and this
    # process's own historical read (train) both need it.
    os.environ["FEAST_DB_PASSWORD"] = password
    env = dict(os.environ)
    for action in (["apply", "--repo", str(repo)], ["materialize", "--repo", str(repo), "--tenant", TENANT]):
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "features", *action], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"mlplat features {action[0]} failed:\n{done.stderr}")
    spec = tmp / "serving.json"
    spec.write_text(specs_to_json(feature_specs(tenant)))
    url = f"postgresql://{database(TENANT)}:{password}@127.0.0.1:{pg.port}/{database(TENANT)}"
    return repo, spec, url, password


def train(tracking_uri: str, repo: Path) -> object:
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from services.features import dataset
    from services.features.names import FEATURE_SERVICE_TAG
    from services.features.store import historical_features

    rows = historical_features(repo, SERVICE, dataset.labels(datetime.now(UTC)))
    x, y = rows[list(dataset.MEASUREMENTS)], rows["species"]
    estimator = LogisticRegression(max_iter=1000).fit(x, y)
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            estimator, name="model", signature=infer_signature(x, estimator.predict(x)), registered_model_name="ranker"
        )
    client = MlflowClient(tracking_uri)
    client.set_model_version_tag("ranker", info.registered_model_version, FEATURE_SERVICE_TAG, SERVICE)
    client.set_registered_model_alias("ranker", "champion", info.registered_model_version)
    return estimator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=6, help="seconds per wrk run [6]")
    parser.add_argument("--rounds", type=int, default=3, help="turns of (a) then (b) [3]")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("benchmark needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    from services.registry.postgres import PostgresNotInstalled, throwaway_postgres

    tmp = Path(tempfile.mkdtemp(prefix="mlplat-feature-bench-"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; wrk -t1 -c8, "
          f"{args.duration}s per run, {args.rounds} rounds taking turns")  # fmt: skip
    try:
        with throwaway_postgres() as pg:
            repo, spec, url, password = prepare(tmp, pg)
            registry = start_mlflow(tmp / "mlflow")
            try:
                model = train(registry.uri, repo)
                results = run(tmp, repo, spec, url, password, registry.uri, model, args)
            finally:
                registry.stop()
    except PostgresNotInstalled as exc:
        print(f"benchmark needs PostgreSQL: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    return 0


def run(tmp: Path, repo: Path, spec: Path, url: str, password: str, tracking_uri: str, model, args) -> list[Result]:
    import httpx

    feast_port, ours_port = free_port(), free_port()
    feast_body = tmp / "feast.json"
    feast_body.write_text(json.dumps({"feature_service": SERVICE, "entities": {"flower_id": [FLOWER]}}))
    ours_body = tmp / "ours.json"
    ours_body.write_text(
        json.dumps({"inputs": [{"name": "flower_id", "shape": [1], "datatype": "INT64", "data": [FLOWER]}]})
    )
    feast_url = f"http://127.0.0.1:{feast_port}/get-online-features"
    ours_url = f"http://127.0.0.1:{ours_port}/v2/models/ranker/infer"
    feast_cmd = [
        sys.executable,
        "-m",
        "services.cli",
        "features",
        "serve",
        "--repo",
        str(repo),
        "--port",
        str(feast_port),
    ]
    ours_cmd = [sys.executable, "-m", "services.cli", "serve", "models:/ranker@champion", "--features", str(spec),
                "--port", str(ours_port), "--grpc-port", str(free_port())]  # fmt: skip
    ours_env = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLPLAT_ONLINE_STORE": url,
        "MLPLAT_MODEL_CACHE": str(tmp / "cache"),
    }
    results: list[Result] = []
    with (
        process(feast_cmd, f"http://127.0.0.1:{feast_port}/health", tmp / "feast.log", {"FEAST_DB_PASSWORD": password}),
        process(ours_cmd, f"http://127.0.0.1:{ours_port}/v2/health/ready", tmp / "ours.log", ours_env),
    ):
        # the same entity, the same features: (b)'s answer is the model on what (a) returns
        json_type = {"content-type": "application/json"}  # as wrk_post.lua sends it
        features = httpx.post(feast_url, content=feast_body.read_bytes(), headers=json_type, timeout=30).json()
        names = features["metadata"]["feature_names"]
        row = {n: r["values"][0] for n, r in zip(names, features["results"], strict=True) if n != "flower_id"}
        import pandas as pd

        from services.features import dataset

        expected = model.predict(pd.DataFrame([row])[list(dataset.MEASUREMENTS)]).tolist()
        answered = httpx.post(ours_url, content=ours_body.read_bytes(), headers=json_type, timeout=30).json()
        answer = answered["outputs"][0]["data"]
        if answer != expected:
            raise SystemExit(
                f"the model server answered {answer} for flower {FLOWER}, the model on Feast's features {expected}"
            )
        print(f"flower {FLOWER}: Feast returns {row}; the model server predicts {answer} from its key alone (same)")
        for url_, body in ((feast_url, feast_body), (ours_url, ours_body)):
            wrk(url_, body, 8, 2)  # warm up: connections, caches, prepared statements
        for round_ in range(1, args.rounds + 1):
            for label, url_, body, api in (
                ("(a) feast serve", feast_url, feast_body, "get-online-features"),
                ("(b) mlplat serve", ours_url, ours_body, "v2 infer (entity key)"),
            ):
                rps, p50, p99, errors, _ = wrk(url_, body, 8, args.duration)
                results.append(Result(label, api, 8, 1, rps, p50, p99, errors))
                print(
                    f"  round {round_} {label:<17} {rps:>8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                    f"errors {errors}",
                    flush=True,
                )
    return results


def report(results: list[Result]) -> None:
    best = {}
    for result in results:
        if result.server not in best or result.rps > best[result.server].rps:
            best[result.server] = result
    print("\n== Feature serving: one entity, concurrency 8, one worker each (best of the rounds) ==")
    print(f"{'server':<18} {'request':<24} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for r in best.values():
        print(
            f"{r.server:<18} {r.api:<24} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f}"
            + ("  ERRORS" if r.errors else "")
        )
    a, b = best.get("(a) feast serve"), best.get("(b) mlplat serve")
    if a and b and a.rps:
        throughput, latency = b.rps / a.rps, b.p99_ms / a.p99_ms
        print(
            f"(b) / (a): {throughput:.2f}x the throughput ({'met' if throughput >= 1 else 'NOT met'}: target >= 1), "
            f"p99 {latency:.2f}x ({'met' if latency <= 1 else 'NOT met'}: target <= 1)"
        )


if __name__ == "__main__":
    sys.exit(main())
