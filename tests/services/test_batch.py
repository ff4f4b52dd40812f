"""`mlplat batch score` against a real MLflow registry: the output equals in-process predict, every bad
row lands in the rejects file with its reason, the reject ratio fails a run, output appears whole or
not at all (even when the run is killed), and a re-run is byte-for-byte the same."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from services.batch.output import read_rejects
from services.cli import main
from tests.services.mlflow_fixtures import IRIS_COLUMNS, iris_data, register_iris

ROOT = Path(__file__).resolve().parents[2]
MODEL = "batch-iris"


@pytest.fixture(scope="module")
def registry(mlflow_server, tmp_path_factory):
    """The registry with an iris model at @champion; the CLI finds it through MLFLOW_TRACKING_URI."""
    version = register_iris(mlflow_server.uri, MODEL, alias="champion")
    previous = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLPLAT_MODEL_CACHE")}
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server.uri
    os.environ["MLPLAT_MODEL_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    yield mlflow_server.uri, version
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([",".join(IRIS_COLUMNS), *lines]) + "\n")
    return path


def _iris_lines(count: int) -> list[str]:
    x, _ = iris_data()
    return [",".join(f"{v:g}" for v in x[i % len(x)]) for i in range(count)]


def _score(*args: str) -> int:
    return main(["batch", "score", f"models:/{MODEL}@champion", *args])


def _estimator(uri: str, version: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")


def test_batch_output_equals_in_process_predict(registry, tmp_path):
    uri, version = registry
    source = _write_csv(tmp_path / "in.csv", _iris_lines(1000))
    output = tmp_path / "out" / "scores.parquet"
    assert _score("--input", str(source), "--output", str(output)) == 0

    scores = pq.read_table(output).to_pydict()
    x, _ = iris_data()
    expected = _estimator(uri, version).predict(np.asarray([x[i % len(x)] for i in range(1000)]))
    assert scores["row"] == list(range(1, 1001))
    assert scores["prediction"] == expected.tolist()
    run_id = _run_id(uri, version)
    assert set(scores["model_name"]) == {MODEL}
    assert set(scores["model_version"]) == {version}
    assert set(scores["model_run_id"]) == {run_id}
    assert read_rejects(tmp_path / "out" / "scores.rejects.csv") == []


def _run_id(uri: str, version: str) -> str:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri).get_model_version(MODEL, version).run_id


def test_parquet_in_csv_out_with_a_kept_column(registry, tmp_path):
    uri, version = registry
    x, _ = iris_data()
    table = pa.table({"customer": [f"c{i}" for i in range(len(x))], **{c: x[:, i] for i, c in enumerate(IRIS_COLUMNS)}})
    pq.write_table(table, tmp_path / "in.parquet")
    output = tmp_path / "scores.csv"
    assert _score("--input", str(tmp_path / "in.parquet"), "--output", str(output), "--keep", "customer") == 0
    scores = pa_csv.read_csv(output).to_pydict()
    assert scores["customer"] == [f"c{i}" for i in range(len(x))]
    assert scores["prediction"] == _estimator(uri, version).predict(x).tolist()


BAD_ROWS = {
    # row content -> (column, reason) in the rejects file
    "5.1,abc,1.4,0.2": ("sepal_width", "'sepal_width' must be a number (double), got 'abc'"),
    "5.1,,1.4,0.2": ("sepal_width", "'sepal_width' is required but has no value (NaN/null)"),
    "5.1,3.5,NaN,0.2": ("petal_length", "'petal_length' is required but has no value (NaN/null)"),
    "5.1,3.5,1.4,inf": ("petal_width", "'petal_width' must be finite, got inf"),
    "5.1,3.5,1.4": ("", f"has 3 values, the model expects 4 ({', '.join(IRIS_COLUMNS)})"),
    "5.1,3.5,1.4,0.2,9": ("", f"has 5 values, the model expects 4 ({', '.join(IRIS_COLUMNS)})"),
}


def test_each_bad_row_class_lands_in_the_rejects_file_with_its_row_and_reason(registry, tmp_path):
    lines = _iris_lines(2000)
    bad_at = {}
    for index, bad in enumerate(BAD_ROWS):
        row = 100 + 300 * index  # 1-based row number in the file (the header is not a row)
        lines[row - 1] = bad
        bad_at[row] = BAD_ROWS[bad]
    source = _write_csv(tmp_path / "in.csv", lines)
    output = tmp_path / "scores.parquet"
    assert _score("--input", str(source), "--output", str(output)) == 0

    rejects = {int(r["row"]): (r["column"], r["reason"]) for r in read_rejects(tmp_path / "scores.rejects.csv")}
    assert rejects == bad_at
    scored = pq.read_table(output, columns=["row"]).column("row").to_pylist()
    assert len(scored) == 2000 - len(BAD_ROWS)
    assert not set(scored) & set(bad_at)  # never silently dropped: every row is scored or rejected
    assert sorted(scored + list(bad_at)) == list(range(1, 2001))


def test_rejects_use_the_model_servers_wording(registry, tmp_path):
    """The same rule, the same words: a row the batch rejects is a request the server refuses."""
    from services.model_server.codec import ClientError, Signature, decode_invocations

    signature = Signature(tuple(IRIS_COLUMNS), ("double",) * 4, (True,) * 4)
    with pytest.raises(ClientError) as refused:
        decode_invocations({"dataframe_split": {"columns": IRIS_COLUMNS, "data": [[5.1, "abc", 1.4, 0.2]]}}, signature)
    lines = _iris_lines(10)
    lines[0] = "5.1,abc,1.4,0.2"
    _score("--input", str(_write_csv(tmp_path / "in.csv", lines)), "--output", str(tmp_path / "s.parquet"))
    reason = read_rejects(tmp_path / "s.rejects.csv")[0]["reason"]
    assert refused.value.message.endswith(reason)


def test_above_the_reject_ratio_the_run_fails_writes_the_rejects_and_no_output(registry, tmp_path, capsys):
    lines = _iris_lines(100)
    for row in range(5):
        lines[row] = "x,y,z,w"
    source = _write_csv(tmp_path / "in.csv", lines)
    output = tmp_path / "scores.parquet"
    assert _score("--input", str(source), "--output", str(output), "--max-reject-ratio", "0.02") == 1
    assert "rejected 5 of 100 rows (5.00%), above the maximum reject ratio 0.02: no output written" in (
        capsys.readouterr().err
    )
    assert not output.exists()
    assert len(read_rejects(tmp_path / "scores.rejects.csv")) == 5
    assert list(tmp_path.glob(".scores.parquet.partial-*")) == []
    # the same file passes with a higher limit
    assert _score("--input", str(source), "--output", str(output), "--max-reject-ratio", "0.05") == 0
    assert pq.read_metadata(output).num_rows == 95


def test_rerunning_the_same_input_with_the_same_version_is_byte_for_byte_idempotent(registry, tmp_path):
    source = _write_csv(tmp_path / "in.csv", _iris_lines(5000))
    digests = []
    for _ in range(2):
        assert _score("--input", str(source), "--output", str(tmp_path / "scores.parquet")) == 0
        digests.append(hashlib.sha256((tmp_path / "scores.parquet").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def _big_csv(path: Path, rows: int) -> Path:
    x, _ = iris_data()
    data = x[np.arange(rows) % len(x)]
    table = pa.table({c: data[:, i] for i, c in enumerate(IRIS_COLUMNS)})
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="none"))
    return path


def _start(source: Path, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "batch", "score", f"models:/{MODEL}@champion"]
        + ["--input", str(source), "--output", str(output)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_for_partial(process: subprocess.Popen, output: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not list(output.parent.glob(f".{output.name}.partial-*")):
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_run_killed_midway_leaves_no_output_file(registry, tmp_path, sig):
    source = _big_csv(tmp_path / "in.csv", 3_000_000)
    output = tmp_path / "scores.parquet"
    process = _start(source, output)
    _wait_for_partial(process, output)
    process.send_signal(sig)
    process.wait(timeout=30)
    assert not output.exists()
    if sig == signal.SIGTERM:  # a stopped run cleans up after itself
        assert list(tmp_path.glob(".scores.parquet.partial-*")) == []
    # the next run removes what a killed one could not, and publishes the whole output
    assert _score("--input", str(source), "--output", str(output)) == 0
    assert pq.read_metadata(output).num_rows == 3_000_000
    assert list(tmp_path.glob(".scores.*.partial-*")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{tmp}/missing.csv", "--output", "{tmp}/o.parquet"], "missing.csv: no such file"),
        (["--input", "{tmp}/in.json", "--output", "{tmp}/o.parquet"], "unsupported extension '.json'"),
        (["--input", "{tmp}/in.csv", "--output", "{tmp}/o.txt"], "unsupported extension '.txt'; use .csv or .parquet"),
        (["--input", "{tmp}/in.csv", "--output", "{tmp}/o.parquet", "--max-reject-ratio", "2"], "between 0 and 1"),
        (["--input", "{tmp}/in.csv", "--output", "{tmp}/in.csv"], "would overwrite the input"),
        (["--input", "{tmp}/in.csv", "--output", "{tmp}/o.csv", "--schedule", "nightly"], "--schedule: 'nightly'"),
    ],
)
def test_usage_errors_name_the_problem_without_a_traceback(registry, tmp_path, capsys, args, message):
    _write_csv(tmp_path / "in.csv", _iris_lines(3))
    (tmp_path / "in.json").write_text("{}")
    assert _score(*[a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_model_uri_that_does_not_resolve_is_named_with_the_fix(registry, tmp_path, capsys):
    source = _write_csv(tmp_path / "in.csv", _iris_lines(3))
    output = str(tmp_path / "o.csv")
    code = main(["batch", "score", f"models:/{MODEL}@nobody", "--input", str(source), "--output", output])
    err = capsys.readouterr().err
    assert code == 1
    assert f"models:/{MODEL}@nobody: the registry at" in err and "alias nobody not found" in err
    assert "check the model name and alias" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("sepal_length,sepal_width,petal_length", "column(s) petal_width missing; the model expects"),
        (",".join([*IRIS_COLUMNS, "id"]), "column(s) id are not inputs of the model"),
    ],
)
def test_a_header_that_does_not_match_the_signature_fails_before_any_row(registry, tmp_path, capsys, header, message):
    (tmp_path / "in.csv").write_text(header + "\n1,2,3,4\n")
    assert _score("--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.parquet")) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()
