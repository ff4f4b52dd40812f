"""Batch scoring's pure core: a chunk to valid rows and rejects by the server's rules, row numbers around
rows the CSV parser dropped, the command line a blueprint batch job runs, and the sampled drift."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from blueprints import load
from services.batch.command import batch_args
from services.batch.reader import _RowNumbers
from services.batch.rows import validate_chunk
from services.model_server.codec import Signature

SIGNATURE = Signature(("a", "n", "flag"), ("double", "long", "boolean"), (True, True, False))


def _chunk(a, n, flag) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"a": pa.array(a), "n": pa.array(n), "flag": pa.array(flag)})


def test_a_clean_chunk_is_one_matrix_in_signature_order():
    valid = validate_chunk(_chunk(["1.5", "2"], ["3", "4"], ["true", "0"]), np.array([10, 11]), SIGNATURE)
    assert valid.rejects == []
    assert valid.matrix.tolist() == [[1.5, 3.0, 1.0], [2.0, 4.0, 0.0]]
    assert valid.rows.tolist() == [10, 11]


def test_each_rule_rejects_its_row_with_the_servers_reason_and_keeps_the_rest():
    batch = _chunk(
        ["1", "x", None, "inf", "2", "3"], ["1", "1", "1", "1", "2.5", "7"], ["yes", "1", None, "0", "1", "0"]
    )
    valid = validate_chunk(batch, np.arange(1, 7), SIGNATURE)
    assert [(r.row, r.column, r.reason) for r in valid.rejects] == [
        (1, "flag", "'flag' must be a number (boolean), got 'yes'"),
        (2, "a", "'a' must be a number (double), got 'x'"),
        (3, "a", "'a' is required but has no value (NaN/null)"),
        (4, "a", "'a' must be finite, got inf"),
        (5, "n", "'n' must be an integer, got 2.5"),
    ]
    assert valid.rows.tolist() == [6] and valid.keep.tolist() == [5]
    assert valid.matrix.tolist() == [[3.0, 7.0, 0.0]]


def test_an_optional_column_may_be_missing():
    valid = validate_chunk(_chunk(["1"], ["2"], [None]), np.array([1]), SIGNATURE)
    assert valid.rejects == [] and np.isnan(valid.matrix[0, 2])


def test_numeric_columns_from_parquet_need_no_parsing():
    batch = pa.RecordBatch.from_pydict({"a": pa.array([1.0]), "n": pa.array([2], pa.int32()), "flag": pa.array([True])})
    assert validate_chunk(batch, np.array([1]), SIGNATURE).matrix.tolist() == [[1.0, 2.0, 1.0]]


def test_row_numbers_skip_the_rows_the_parser_dropped():
    numbers = _RowNumbers()
    dropped = [(3, "short"), (4, "long"), (9, "short")]
    assert numbers.take(4, dropped).tolist() == [1, 2, 5, 6]  # rows 3 and 4 were dropped
    assert numbers.take(3, dropped).tolist() == [7, 8, 10]
    assert numbers.take(2, dropped).tolist() == [11, 12]


def test_a_blueprint_batch_job_runs_mlplat_batch_score_with_its_settings():
    tenant = load("foundation").tenants[0]
    job = tenant.batch[0]
    args = batch_args(job, tenant.name, "/data")
    assert args[:3] == ["batch", "score", "models:/iris@champion"]
    flags = dict(zip(args[3::2], args[4::2], strict=True))
    assert flags == {
        "--input": "/data/incoming/iris.csv",
        "--output": "/data/scored/iris.parquet",
        "--max-reject-ratio": "0.01",
        "--job-name": "iris-nightly",
        "--tenant": "data-science",
        "--schedule": "0 3 * * *",
    }


def test_the_command_is_accepted_by_the_real_cli():
    from services.cli import build_parser

    tenant = load("foundation").tenants[0]
    parsed = build_parser().parse_args(batch_args(tenant.batch[0], tenant.name, "/data"))
    assert parsed.model == "models:/iris@champion" and parsed.schedule == "0 3 * * *"


def test_batch_psi_counts_every_row_of_a_small_file_and_samples_a_large_one_closely():
    from services.batch import score
    from services.model_server.loading import LoadedModel
    from services.model_server.reference import bin_counts, psi, reference_from_data

    generator = np.random.default_rng(1)
    reference = reference_from_data(generator.normal(size=(5000, 1)), ["x"])
    signature = Signature(("x",), ("double",), (True,))
    model = LoadedModel("m", "1", None, "sklearn", lambda b: b, signature, None, reference)
    shifted = generator.normal(0.5, 1.2, size=(3_000_000, 1))
    exact = psi(reference["x"].proportions, bin_counts(reference["x"], shifted[:, 0]))
    counts = score._DriftCounts(model)
    for start in range(0, len(shifted), 45_000):  # chunk by chunk, as a run does
        counts.add(shifted[start : start + 45_000])
    assert exact > 0.2 and counts.psi()["x"] == pytest.approx(exact, rel=0.02)
    small = score._DriftCounts(model)
    small.add(shifted[:45_000])
    assert small.psi()["x"] == psi(reference["x"].proportions, bin_counts(reference["x"], shifted[:45_000, 0]))
