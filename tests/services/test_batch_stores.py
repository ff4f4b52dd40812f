"""`mlplat batch score` against the registry addresses MLflow accepts besides a server: a local SQLite
tracking store (MLflow's client path), and a clear refusal of an address MLflow would not take."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from services.cli import main
from tests.services.mlflow_fixtures import IRIS_COLUMNS, iris_data, register_iris


@pytest.fixture
def sqlite_store(tmp_path, monkeypatch):
    import mlflow

    previous = mlflow.get_tracking_uri()
    monkeypatch.chdir(tmp_path)  # the store's default artifact root (./mlruns) lands in the test's folder
    monkeypatch.setenv("MLPLAT_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(previous)


def test_batch_scoring_reads_a_local_sqlite_tracking_store(sqlite_store, tmp_path):
    import mlflow.sklearn

    version = register_iris(sqlite_store, "sqlite-iris", alias="champion")
    x, _ = iris_data()
    rows = [x[i % len(x)] for i in range(300)]
    source = tmp_path / "in.csv"
    source.write_text("\n".join([",".join(IRIS_COLUMNS), *(",".join(f"{v:g}" for v in row) for row in rows)]) + "\n")
    output = tmp_path / "scores.parquet"

    code = main(
        ["batch", "score", "models:/sqlite-iris@champion", "--input", str(source), "--output", str(output)]
        + ["--tracking-uri", sqlite_store]
    )

    assert code == 0
    scores = pq.read_table(output).to_pydict()
    expected = mlflow.sklearn.load_model(f"models:/sqlite-iris/{version}").predict(np.asarray(rows))
    assert scores["prediction"] == expected.tolist()
    assert set(scores["model_version"]) == {version}


def test_an_address_mlflow_would_not_take_is_refused_with_the_forms_it_would(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text(",".join(IRIS_COLUMNS) + "\n1,2,3,4\n")
    code = main(
        ["batch", "score", "models:/iris@champion", "--input", str(source), "--output", str(tmp_path / "o.parquet")]
        + ["--tracking-uri", "ftp://registry.example"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "'ftp://registry.example' is not a registry address MLflow accepts" in err
    assert "sqlite:///<file>" in err and not (tmp_path / "o.parquet").exists()
