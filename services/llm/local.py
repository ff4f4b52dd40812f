"""LLM pieces as local processes on loopback: backends, the gateway, a PostgreSQL with pgvector.

The tests, the benchmark and the demo start the same commands the cluster's pods and standalone run
(`mlplat llm backend`, `mlplat llm gateway`), here with `LocalProcess`, which waits until the process
answers its health URL and stops it (and only it) on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.llm.gateway.config import GatewayConfig

__all__ = ["LocalProcess", "start_backend", "start_gateway", "pgvector_database", "write_keys", "PgvectorMissing"]


class PgvectorMissing(RuntimeError):
    pass


@dataclass
class LocalProcess:
    name: str
    command: list[str]
    url: str
    health_path: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> LocalProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: see {self.log}")
            try:
                with urllib.request.urlopen(self.url + self.health_path, timeout=2) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} did not answer {self.url}{self.health_path} in {timeout:g}s: see {self.log}")

    def kill(self) -> None:
        """SIGKILL: a crash, as a test or a benchmark wants one."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def start_backend(
    source: str,
    name: str,
    port: int,
    logs: Path,
    *,
    context: int = 2048,
    threads: int = 1,
    prompt_cache_mib: int = 64,
    embedding: bool = False,
    python: str = sys.executable,
) -> LocalProcess:
    command = [python, "-m", "services.cli", "llm", "backend", source, "--name", name, "--port", str(port)]
    command += ["--context", str(context), "--threads", str(threads), "--prompt-cache-mib", str(prompt_cache_mib)]
    if embedding:
        command.append("--embedding")
    url = f"http://127.0.0.1:{port}"
    return LocalProcess(f"{name}@{port}", command, url, "/v1/models", logs / f"{name}-{port}.log").start()


def write_keys(directory: Path, keys: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for tenant, key in keys.items():
        path = directory / tenant
        path.write_text(key)
        path.chmod(0o600)
    return directory


def start_gateway(
    config: GatewayConfig,
    keys: dict[str, str],
    port: int,
    workdir: Path,
    *,
    dsn: str | None = None,
    tokenizer: Path | None = None,
    python: str = sys.executable,
) -> LocalProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "gateway.json").write_bytes(config.to_json())
    keys_dir = write_keys(workdir / "keys", keys)
    command = [python, "-m", "services.cli", "llm", "gateway", "--config", str(workdir / "gateway.json")]
    command += ["--keys", str(keys_dir), "--port", str(port)]
    if tokenizer:
        command += ["--tokenizer", str(tokenizer)]
    env = {"MLPLAT_LLM_CACHE_DSN": dsn} if dsn else {}
    url = f"http://127.0.0.1:{port}"
    return LocalProcess("llm-gateway", command, url, "/readyz", workdir / "gateway.log", env).start(timeout=60)


@contextlib.contextmanager
def pgvector_database(name: str = "llm_cache") -> Iterator[str]:
    """A throwaway PostgreSQL 15 (services/registry/postgres.py) with the vector extension: its DSN."""
    from services.registry.postgres import throwaway_postgres

    with throwaway_postgres(database=name) as server:
        db = server.database(name)
        dsn = (
            f"postgresql://{urllib.parse.quote(db.user, safe='')}:{urllib.parse.quote(db.password, safe='')}"
            f"@{db.host}:{db.port}/{name}"
        )
        done = subprocess.run(
            [str(server.bin_dir / "psql"), "-v", "ON_ERROR_STOP=1", "-c", "CREATE EXTENSION IF NOT EXISTS vector"],
            env={**os.environ, **db.libpq_env()},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise PgvectorMissing(
                f"CREATE EXTENSION vector failed ({done.stderr.strip()}): install pgvector for PostgreSQL 15 "
                "with `make pgvector` (as root)"
            )
        yield dsn
