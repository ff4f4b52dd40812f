"""`mlplat batch score MODEL_URI --input PATH --output PATH`: score a file with a registered model.

Examples:
  mlplat batch score models:/iris@champion --input incoming/iris.csv --output scored/iris.parquet
  mlplat batch score models:/iris/3 --input day.parquet --output day-scores.csv --keep customer_id \\
                     --max-reject-ratio 0.05 --pushgateway http://127.0.0.1:9091 --job-name iris-daily
The registry comes from MLFLOW_TRACKING_URI (or --tracking-uri). Rows that break the model's signature
go to OUTPUT's `<stem>.rejects.csv` with their row number and reason; above --max-reject-ratio the run
fails and writes no output. Exit codes: 0 scored, 1 the run failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    batch = subparsers.add_parser("batch", help="batch scoring: a registered model over a CSV or Parquet file")
    actions = batch.add_subparsers(dest="action", required=True, metavar="ACTION")
    score = actions.add_parser(
        "score",
        help="score a CSV or Parquet file; rejects rows that break the signature",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("model", metavar="MODEL_URI", help="models:/<name>@<alias> or models:/<name>/<version>")
    score.add_argument("--input", required=True, type=Path, help="the .csv or .parquet file to score")
    score.add_argument("--output", required=True, type=Path, help=".csv or .parquet; written atomically")
    score.add_argument("--rejects", type=Path, default=None, help="rejected rows [beside OUTPUT: <stem>.rejects.csv]")
    score.add_argument(
        "--max-reject-ratio",
        default="0.01",
        help="fail, writing no output, when more than this share of rows is rejected [0.01]",
    )
    score.add_argument(
        "--keep", action="append", default=[], metavar="COLUMN", help="copy an input column to the output (repeatable)"
    )
    score.add_argument("--tracking-uri", default=None, help="MLflow server [MLFLOW_TRACKING_URI]")
    score.add_argument("--pushgateway", default=None, help="push metrics to this Pushgateway [MLPLAT_PUSHGATEWAY]")
    score.add_argument("--job-name", default=None, help="the job's name in metrics [the output's file name]")
    score.add_argument("--tenant", default=None, help="the tenant label of the metrics")
    score.add_argument("--schedule", default=None, help="the job's cron schedule, for the 'late' alert")
    score.set_defaults(handler=_score)


def reject_ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise CliError(
            f"--max-reject-ratio {text!r}: give a share between 0 and 1 (e.g. 0.01 for 1 % of the rows; 0 rejects none)"
        )
    return value


def _score(args: argparse.Namespace) -> int:
    """Check everything a user can get wrong before importing MLflow, then score; report every failure."""
    from blueprints.cron import CronError, parse_cron
    from services.batch.reader import InputError, file_format
    from services.model_server.uris import parse_model_uri

    limit = reject_ratio(args.max_reject_ratio)
    try:
        ref = parse_model_uri(args.model)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        file_format(args.input)
        file_format(args.output)
        if args.rejects is not None and args.rejects.suffix.lower() != ".csv":
            raise InputError(f"{args.rejects}: the rejects file is CSV; give a path ending in .csv")
    except InputError as exc:
        raise CliError(str(exc)) from None
    if not args.input.is_file():
        raise CliError(f"{args.input}: no such file; give the path of the .csv or .parquet file to score")
    if args.output.resolve() == args.input.resolve():
        raise CliError(f"{args.output}: the output would overwrite the input; write the scores to another file")
    schedule_seconds = None
    if args.schedule:
        try:
            schedule_seconds = parse_cron(args.schedule).max_interval_seconds
        except CronError as exc:
            raise CliError(f"--schedule: {exc}") from None
    from services.registry import address

    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "")
    wrong = address.problem(tracking_uri)
    if wrong:
        raise CliError(wrong)
    args.tracking_uri = tracking_uri
    gateway = args.pushgateway or os.environ.get("MLPLAT_PUSHGATEWAY") or None
    identity = None
    if gateway:
        from services.batch.push import BatchIdentity

        identity = BatchIdentity(
            gateway,
            job_name=args.job_name or args.output.name,
            model=ref.name,
            tenant=args.tenant,
            schedule_seconds=schedule_seconds,
            max_reject_ratio=limit,
        )
    # Kubernetes stops a Job past its deadline with SIGTERM: exit through the cleanup (no partial output).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.WARNING, format="batch: %(message)s")
    try:
        result = _run(args, ref, limit)
    except BaseException as exc:
        if identity is not None:
            from services.batch.push import push_failure
            from services.batch.score import RejectRatioExceeded

            push_failure(identity, exc.result if isinstance(exc, RejectRatioExceeded) else None)
        raise
    if identity is not None:
        from services.batch.push import push_success

        push_success(identity, result)
    return 0


def _run(args: argparse.Namespace, ref, limit: float):
    from services.batch.reader import InputError
    from services.batch.score import BatchOptions, Progress, RejectRatioExceeded, score_file

    model = _load(ref, args.tracking_uri)
    options = BatchOptions(max_reject_ratio=limit, keep=tuple(args.keep), rejects=args.rejects)
    try:
        return score_file(model, args.input, args.output, options, Progress())
    except InputError as exc:
        raise CliError(str(exc)) from None
    except RejectRatioExceeded as exc:
        raise CliError(str(exc), code=1) from exc
    except ValueError as exc:  # a model without a signature, multi-output predictions to CSV
        raise CliError(str(exc), code=1) from None


def _load(ref, tracking_uri: str):
    """The model the URI points at now, fetched from the registry and loaded the model server's way."""
    from services.batch.model import RegistryError, fetch_model

    try:
        return fetch_model(ref, tracking_uri)
    except RegistryError as exc:
        raise CliError(
            f"{ref.uri}: {exc}; check the model name and alias or version, and MLFLOW_TRACKING_URI or --tracking-uri",
            code=1,
        ) from None
