"""Start-up: turn the `mlplat serve` configuration into routes, a poller and a running server.

One worker (the default) runs everything in one process: the event loop answers REST and gRPC
requests and the poller thread follows the registry. With `--workers N` uvicorn starts N processes,
each with its own poller, its own copy of the models (N times the memory) and its own gRPC server on
the shared gRPC port (SO_REUSEPORT: the kernel spreads connections); metrics then use
prometheus-client's multiprocess mode so /metrics sums every worker.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field

__all__ = [
    "MULTIPROC_VARIABLES",
    "ServeConfig",
    "build_routes",
    "create_app",
    "app_from_env",
    "prepare",
    "run",
    "serve",
]

_ENV = "MLPLAT_SERVE_CONFIG"
ONLINE_STORE_ENV = "MLPLAT_ONLINE_STORE"  # where models with a feature service read their features


@dataclass
class ServeConfig:
    models: list[str]
    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int = 8081  # the Open Inference Protocol over gRPC; 0 = off
    workers: int = 1
    challengers: list[str] = field(default_factory=list)
    challenger_weights: dict[str, float] = field(default_factory=dict)  # model name -> percent
    default_challenger_weight: float = 0.0
    shadows: list[str] = field(default_factory=list)
    poll_interval: float = 30.0
    max_body_bytes: int = 4 * 1024 * 1024
    drift_window: int = 500
    max_batch_rows: int = 64  # micro-batching for models without the compiled path; 0 = off
    max_batch_wait_ms: float = 0.0  # 0 = adaptive: batch what arrived in the same event-loop turn
    features_file: str | None = None  # serving specs of models that read a feature service (JSON)


def build_routes(config: ServeConfig):
    from services.model_server.routing import Route
    from services.model_server.uris import parse_model_uri

    routes: dict[str, Route] = {}
    for uri in config.models:
        ref = parse_model_uri(uri)
        if ref.name in routes:
            raise ValueError(f"{uri}: model {ref.name!r} is served twice")
        routes[ref.name] = Route(ref.name, _slot(config, ref, "champion"))
    for flag, uris in (("--challenger", config.challengers), ("--shadow", config.shadows)):
        for uri in uris:
            ref = parse_model_uri(uri)
            route = routes.get(ref.name)
            if route is None:
                raise ValueError(f"{flag} {uri}: {ref.name!r} is not one of the served models {sorted(routes)}")
            variant = flag.removeprefix("--")
            if getattr(route, variant) is not None:
                raise ValueError(f"{flag} {uri}: {ref.name!r} already has a {variant}")
            setattr(route, variant, _slot(config, ref, variant))
    for name, weight in config.challenger_weights.items():
        if name not in routes:
            raise ValueError(f"--challenger-weight {name}={weight:g}: {name!r} is not a served model")
    _bind_features(config, routes)
    for route in routes.values():
        percent = config.challenger_weights.get(route.name, config.default_challenger_weight)
        if not 0 <= percent <= 100:
            raise ValueError(f"--challenger-weight {percent:g}: use a percentage from 0 to 100")
        if percent and route.challenger is None:
            raise ValueError(f"--challenger-weight for {route.name!r} needs --challenger models:/{route.name}@...")
        route.weight = percent / 100
    return routes


def _bind_features(config: ServeConfig, routes: dict) -> None:
    """Models whose spec is in the features file answer entity keys from the online store named by
    MLPLAT_ONLINE_STORE (one reader per process, connecting on first use)."""
    from pathlib import Path

    from services.features.online import open_store
    from services.features.spec import specs_from_json
    from services.model_server.features import FeatureBinding

    if not config.features_file:
        return
    try:
        specs = specs_from_json(Path(config.features_file).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"--features {config.features_file}: {exc}") from None
    served = [name for name in routes if name in specs]
    if not served:
        return
    url = os.environ.get(ONLINE_STORE_ENV, "")
    if not url:
        raise ValueError(
            f"{', '.join(served)} read(s) a feature service: set {ONLINE_STORE_ENV} to the online store "
            "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:///PATH)"
        )
    store = open_store(url)
    for name in served:
        routes[name].features = FeatureBinding(specs[name], store)


def _slot(config: ServeConfig, ref, variant: str):
    from services.model_server.routing import Slot

    return Slot(ref, variant, config.drift_window, config.max_batch_rows, config.max_batch_wait_ms / 1000)


def create_app(config: ServeConfig):
    """The ASGI app; its lifespan starts the registry poller and, on its own port, the gRPC server,
    which shares the app's `Inference` (ADR 0021)."""
    from services.model_server.app import ModelServerApp
    from services.model_server.inference import Inference
    from services.model_server.routing import Poller

    routes = build_routes(config)
    poller = Poller(routes, interval=config.poll_interval)
    inference = Inference(routes)
    grpc_server = None
    if config.grpc_port:
        from services.model_server.grpc_server import GrpcServer

        grpc_server = GrpcServer(inference, max_message_bytes=config.max_body_bytes, reuse_port=config.workers > 1)

    async def startup() -> None:
        if grpc_server is not None:  # first: a taken port fails the start before anything runs
            await grpc_server.start(config.host, config.grpc_port)
        poller.start()

    async def shutdown() -> None:
        poller.stop()
        if grpc_server is not None:
            await grpc_server.stop(grace=5)

    return ModelServerApp(inference, max_body=config.max_body_bytes, on_startup=startup, on_shutdown=shutdown)


def app_from_env():
    """Factory for uvicorn's worker processes: the configuration travels in an environment variable."""
    return create_app(ServeConfig(**json.loads(os.environ[_ENV])))


# prometheus-client switches to multiprocess mode when either is set (the second is its legacy name)
MULTIPROC_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def _choose_metrics_mode(workers: int) -> None:
    """The worker count alone decides how /metrics is collected, never the environment the server was
    started from: a parent that imported Feast (which sets PROMETHEUS_MULTIPROC_DIR on import) would
    otherwise switch a one-worker server to multiprocess mode, whose /metrics has no process_* series
    (cost showback's measured CPU and memory), and several workers would share a stranger's folder.
    Call before prometheus-client is imported: it picks its value store once, on import."""
    for name in MULTIPROC_VARIABLES:
        os.environ.pop(name, None)
    if workers > 1:  # a new, empty folder of this server's own (under TMPDIR), which every worker inherits
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mlplat-metrics-")


def prepare(config: ServeConfig) -> None:
    """Set the process up for `run`: the metrics mode first (before anything imports prometheus-client),
    then validate the configuration, raising ValueError before anything starts or forks."""
    _choose_metrics_mode(config.workers)
    build_routes(config)


def serve(config: ServeConfig) -> None:
    prepare(config)
    run(config)


def run(config: ServeConfig) -> None:
    """Serve a configuration `prepare` accepted, until stopped."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Fail fast on an unreachable registry: the poller retries with its own backoff, and a load
    # must never hang a worker for minutes inside MLflow's HTTP retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    options = {
        "host": config.host,
        "port": config.port,
        "http": "httptools",
        "loop": "uvloop",
        "access_log": False,
        "log_level": "warning",
        "timeout_keep_alive": 30,
        # No proxy-header middleware and no per-response server header: per-request work the hot
        # path does not need (the gateway sets forwarding headers; metrics count requests).
        "proxy_headers": False,
        "server_header": False,
    }
    if config.workers > 1:
        os.environ[_ENV] = json.dumps(asdict(config))
        uvicorn.run("services.model_server.server:app_from_env", factory=True, workers=config.workers, **options)
    else:
        uvicorn.run(create_app(config), **options)
