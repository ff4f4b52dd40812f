"""Real MLflow servers and real registered models for the service tests.

`start_mlflow(tmp)` runs `mlflow server` as a subprocess on a SQLite backend with proxied artifacts
on a free loopback port; `register_iris(...)` trains a small scikit-learn model on the iris data set
that ships with scikit-learn, logs it the way the platform's training code does (signature, input
example, reference distribution) and registers it under an alias.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MLFLOW_WEBHOOK_ENV = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    # MLflow caches each event's webhooks for 60 s: a test that registers a webhook on a session server
    # which already delivered (no) events would wait up to a minute for its first delivery.
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
}
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop_group(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process's whole group (it was started in its own session), SIGKILL after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class MlflowServer:
    uri: str
    process: subprocess.Popen
    root: Path
    port: int

    def stop(self) -> None:
        stop_group(self.process)


def _mlflow_args(root: Path, port: int, backend: str) -> list[str]:
    return [
        "--backend-store-uri",
        backend,
        "--serve-artifacts",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def start_mlflow(root: Path, port: int | None = None, backend: str | None = None) -> MlflowServer:
    port = port or free_port()
    root.mkdir(parents=True, exist_ok=True)
    backend = backend or f"sqlite:///{root / 'mlflow.db'}"
    return _start(root, port, [sys.executable, "-m", "mlflow", "server", *_mlflow_args(root, port, backend)])


def _start(root: Path, port: int, command: list[str]) -> MlflowServer:
    log = (root / "mlflow.log").open("ab")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # The gate's webhook receiver is a plain-HTTP service on loopback; MLflow only delivers to
        # public https URLs unless told otherwise (its SSRF guard).
        env={**os.environ, **MLFLOW_WEBHOOK_ENV},
        cwd=root,  # MLflow writes scratch files (e.g. .metrics/) into its working directory
    )
    server = MlflowServer(f"http://127.0.0.1:{port}", process, root, port)
    try:
        wait_http(f"{server.uri}/health", timeout=90, process=process)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass
class AuthRegistry:
    """A registry with MLflow's authentication app, started by the platform's own `mlplat registry
    server`, and where its users' credentials files are (services/registry/credentials.py)."""

    server: MlflowServer
    credentials_dir: Path

    @property
    def uri(self) -> str:
        return self.server.uri

    def user(self, name: str):
        from services.registry.credentials import ensure_credentials

        return ensure_credentials(self.credentials_dir, name)

    @property
    def admin(self):
        from services.registry.access import ADMIN

        return self.user(ADMIN)

    def stop(self) -> None:
        self.server.stop()


def start_mlflow_with_auth(root: Path) -> AuthRegistry:
    from services.registry.access import ADMIN
    from services.registry.credentials import credentials_file, ensure_credentials
    from services.registry.server import server_args

    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    secrets_dir = root / "secrets"
    ensure_credentials(secrets_dir, ADMIN)
    backend = f"sqlite:///{root / 'mlflow.db'}"
    args = server_args(
        [*_mlflow_args(root, port, backend), "--expose-prometheus", str(root / "prometheus-metrics")],
        auth_database_uri=backend,
        admin_credentials=str(credentials_file(secrets_dir, ADMIN)),
        flask_key_file=str(secrets_dir / "flask-secret-key"),
    )
    return AuthRegistry(_start(root, port, [sys.executable, "-m", "services.cli", *args]), secrets_dir)


@contextlib.contextmanager
def mlflow_running(root: Path) -> Iterator[MlflowServer]:
    server = start_mlflow(root)
    try:
        yield server
    finally:
        server.stop()


def iris_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def register_iris(
    tracking_uri: str,
    name: str = "iris",
    alias: str | None = "champion",
    *,
    C: float = 1.0,
    reference: bool = True,
    tags: dict[str, str] | None = None,
    estimator=None,
) -> str:
    """Train, log and register an iris LogisticRegression (or the given unfitted scikit-learn
    `estimator`); returns the new version."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from services.model_server.reference import log_reference

    mlflow.set_tracking_uri(tracking_uri)
    x, y = iris_data()
    frame = pd.DataFrame(x, columns=IRIS_COLUMNS)
    model = (estimator if estimator is not None else LogisticRegression(C=C, max_iter=500)).fit(frame, y)
    mlflow.set_experiment(f"{name}-training")
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", float(model.score(frame, y)))
        if reference:
            log_reference(frame)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(frame, model.predict(frame)),
            input_example=frame.head(3),
            registered_model_name=name,
        )
    client = MlflowClient(tracking_uri)
    version = str(info.registered_model_version)
    if tags:
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    assert run.info.run_id
    return version


def register_raising(tracking_uri: str, name: str = "boom") -> str:
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.pyfunc import PythonModel
    from mlflow.tracking import MlflowClient

    class _Model(PythonModel):
        """A pyfunc model that raises on a negative first feature: the server must answer 500 and live on."""

        def predict(self, context, model_input, params=None):
            values = model_input.to_numpy()
            if (values[:, 0] < 0).any():
                raise ValueError("negative sepal length: this model refuses")
            return values[:, 0] * 2

    mlflow.set_tracking_uri(tracking_uri)
    x, _ = iris_data()
    frame = pd.DataFrame(x, columns=IRIS_COLUMNS)
    mlflow.set_experiment(f"{name}-training")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_Model(),
            signature=infer_signature(frame, frame.iloc[:, 0] * 2),
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri).set_registered_model_alias(name, "champion", version)
    return version


@dataclass
class ModelServerProcess:
    url: str
    process: subprocess.Popen
    log: Path
    grpc: str = ""  # host:port of its gRPC server

    def stop(self) -> None:
        stop_group(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_model_server(
    tracking_uri: str, args: list[str], root: Path, *, wait_ready: bool = True, timeout: float = 90.0
) -> ModelServerProcess:
    port, grpc_port = free_port(), free_port()
    root.mkdir(parents=True, exist_ok=True)
    log = root / f"server-{port}.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLPLAT_MODEL_CACHE": str(root / "cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", *args, "--port", str(port), "--grpc-port", str(grpc_port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    server = ModelServerProcess(f"http://127.0.0.1:{port}", process, log, f"127.0.0.1:{grpc_port}")
    try:
        wait_http(f"{server.url}/v2/health/{'ready' if wait_ready else 'live'}", timeout, process)
    except BaseException:
        server.stop()
        raise
    return server
