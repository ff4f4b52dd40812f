"""`mlplat serve MODEL_URI...`: serve registered models (see services/model_server/).

Examples:
  mlplat serve models:/iris@champion
  mlplat serve models:/iris@champion --challenger models:/iris@challenger --challenger-weight 10 \\
               --shadow models:/iris@shadow
  mlplat serve models:/ranker@champion models:/embedder@champion --port 9080 --grpc-port 9081 --workers 2
REST (Open Inference Protocol and MLflow /invocations) listens on --port, gRPC (Open Inference Protocol)
on --grpc-port. The registry comes from MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import argparse

from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve registered models over the Open Inference Protocol (REST and gRPC) and MLflow /invocations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("models", nargs="+", metavar="MODEL_URI", help="models:/<name>@<alias> or models:/<name>/<v>")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    parser.add_argument("--port", type=int, default=8080, help="port [8080]")
    parser.add_argument(
        "--grpc-port", type=int, default=8081, help="port of the Open Inference Protocol over gRPC; 0 = off [8081]"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes, each with its own models [1]")
    parser.add_argument(
        "--challenger",
        action="append",
        default=[],
        metavar="MODEL_URI",
        help="a challenger for the served model of the same name (repeatable)",
    )
    parser.add_argument(
        "--challenger-weight",
        action="append",
        default=[],
        metavar="[NAME=]PERCENT",
        help="share of traffic for the challenger(s), 0-100; NAME= targets one model",
    )
    parser.add_argument(
        "--shadow",
        action="append",
        default=[],
        metavar="MODEL_URI",
        help="a shadow that gets a copy of every request; its answers are only measured",
    )
    parser.add_argument("--poll-interval", type=float, default=30.0, help="seconds between alias checks [30]")
    parser.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, help="request size limit [4 MiB]")
    parser.add_argument("--drift-window", type=int, default=500, help="rows per drift (PSI) window [500]")
    parser.add_argument(
        "--max-batch-rows",
        type=int,
        default=64,
        help="micro-batch concurrent requests up to this many rows; 0 = off (linear models never batch) [64]",
    )
    parser.add_argument(
        "--max-batch-wait-ms",
        type=float,
        default=0.0,
        help="wait this long to fill a micro-batch; 0 = batch what arrived together, never wait [0]",
    )
    parser.add_argument(
        "--features",
        metavar="FILE",
        help="serving specs of models that read a feature service (JSON, from the blueprint); their online "
        "store comes from MLPLAT_ONLINE_STORE",
    )
    parser.set_defaults(handler=_serve)


def parse_weights(values: list[str]) -> tuple[float, dict[str, float]]:
    default, per_model = 0.0, {}
    for value in values:
        name, _, percent = value.rpartition("=")
        try:
            number = float(percent)
        except ValueError:
            raise CliError(f"--challenger-weight {value!r}: give a percentage, e.g. 10 or iris=10") from None
        if name:
            per_model[name] = number
        else:
            default = number
    return default, per_model


def config_from_args(args: argparse.Namespace):
    """The server configuration a parsed `mlplat serve` command line describes."""
    from services.model_server.server import ServeConfig

    default, per_model = parse_weights(args.challenger_weight)
    return ServeConfig(
        models=args.models,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        challengers=args.challenger,
        challenger_weights=per_model,
        default_challenger_weight=default,
        shadows=args.shadow,
        poll_interval=args.poll_interval,
        max_body_bytes=args.max_body_bytes,
        drift_window=args.drift_window,
        max_batch_rows=args.max_batch_rows,
        max_batch_wait_ms=args.max_batch_wait_ms,
        features_file=args.features,
    )


def _serve(args: argparse.Namespace) -> int:
    from services.model_server.server import prepare, run

    if not 1 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: use 1-65535")
    if not 0 <= args.grpc_port <= 65535 or args.grpc_port == args.port:
        raise CliError(f"--grpc-port {args.grpc_port}: use 1-65535 (not --port's), or 0 to turn gRPC off")
    if args.workers < 1:
        raise CliError(f"--workers {args.workers}: use 1 or more")
    if args.poll_interval <= 0 or args.max_body_bytes <= 0 or args.drift_window <= 0:
        raise CliError("--poll-interval, --max-body-bytes and --drift-window must be positive")
    if args.max_batch_rows < 0 or args.max_batch_wait_ms < 0:
        raise CliError("--max-batch-rows and --max-batch-wait-ms must be 0 or more")
    config = config_from_args(args)
    try:
        prepare(config)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    run(config)
    return 0
