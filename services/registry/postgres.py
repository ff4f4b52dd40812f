"""A throwaway PostgreSQL server on loopback, for the DR drill and the tests.

`throwaway_postgres()` finds the server binaries (on PATH, else Debian's
`/usr/lib/postgresql/<version>/bin`), runs `initdb` in a new temporary folder and starts the server
on a free loopback port with its Unix socket in that folder; leaving the `with` block stops the
server and deletes the folder, so nothing is left running or on disk.

PostgreSQL refuses to run as root. When the caller is root, the server (initdb, pg_ctl) runs as an
unprivileged user, `postgres` when it exists and `nobody` otherwise, through `runuser`; the folder
is handed to that user. Clients (psql, pg_dump, MLflow) connect over TCP as the caller.

The superuser is `mlflow` with a generated password and password authentication on TCP: the same
shape as the cluster's database, where the postgres image makes POSTGRES_USER a superuser. So the
backup and restore scripts see here exactly the environment they get in the CronJob.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.registry.backups import Database

__all__ = [
    "PostgresNotInstalled",
    "PostgresError",
    "LocalPostgres",
    "throwaway_postgres",
    "find_bin_dir",
    "free_port",
    "SERVER_TOOLS",
    "CLIENT_TOOLS",
]

SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
CLIENT_TOOLS = ("psql", "pg_dump", "pg_restore", "createdb", "dropdb")
# The cluster runs postgres:15 (infra/images.py); prefer the same major version when several are installed.
PREFERRED_MAJOR = "15"
SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql@*/bin")
INSTALL_HINT = (
    "install PostgreSQL 15: Debian/Ubuntu `apt-get install postgresql-15` (the server binaries land in "
    "/usr/lib/postgresql/15/bin, off PATH; that is fine), macOS `brew install postgresql@15`"
)
SUPERUSER = "mlflow"


class PostgresNotInstalled(RuntimeError):
    pass


class PostgresError(RuntimeError):
    pass


def _version_key(folder: Path) -> tuple[int, float]:
    match = re.search(r"(\d+(?:\.\d+)?)", str(folder))
    version = float(match.group(1)) if match else 0.0
    return (0 if match and match.group(1).split(".")[0] == PREFERRED_MAJOR else 1, -version)


def find_bin_dir(
    tools: Sequence[str] = SERVER_TOOLS, *, search: Sequence[str] = SEARCH, path: str | None = None
) -> Path:
    """The folder that holds every one of `tools`: first PATH, then the usual install locations."""
    candidates: list[Path] = []
    on_path = shutil.which(tools[0], path=path)
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for pattern in search:
        candidates += sorted((Path(match) for match in glob.glob(pattern)), key=_version_key)
    for folder in candidates:
        if all((folder / tool).is_file() and os.access(folder / tool, os.X_OK) for tool in tools):
            return folder
    raise PostgresNotInstalled(
        f"PostgreSQL {', '.join(tools)} not found on PATH or in {', '.join(search)}: {INSTALL_HINT}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unprivileged_user() -> str | None:
    """The OS user the server runs as: None (the caller) unless the caller is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresError("running as root and neither a `postgres` nor a `nobody` user exists to run PostgreSQL as")


@dataclass
class LocalPostgres:
    """One PostgreSQL cluster in `root`: data, socket, log. Start, stop, destroy, start afresh."""

    bin_dir: Path
    root: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    run_as: str | None = field(default_factory=_unprivileged_user)
    settings: dict[str, str] = field(default_factory=dict)  # written to postgresql.conf by init()
    running: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def database(self, name: str = "mlflow") -> Database:
        return Database("127.0.0.1", self.port, SUPERUSER, self.password, name)

    def version(self) -> str:
        done = subprocess.run([str(self.bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True)
        return done.stdout.strip().removeprefix("postgres (PostgreSQL) ")

    def _server(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresError(f"`{args[0]}` failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _own(self, path: Path) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def install_script(self, script: Path) -> Path:
        """A copy of `script` the server's user can run by path (archive_command), whoever owns the checkout."""
        from services.registry.scripts import install

        owner = None
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            owner = (entry.pw_uid, entry.pw_gid)
        return install(script, self.server_folder("scripts"), owner)

    def server_folder(self, name: str) -> Path:
        """A folder under `root` the server may write to (a WAL archive, a tablespace)."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        self._own(folder)
        return folder

    def init(self) -> None:
        """initdb into an empty data folder, with the `mlflow` superuser and its password."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._own(self.root)
        (self.root / "socket").mkdir(exist_ok=True)
        self._own(self.root / "socket")
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._own(pwfile)
        try:
            self._server(
                "initdb",
                f"--pgdata={self.data_dir}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",  # the socket lives in our private folder
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if self.settings:  # in the file, not on pg_ctl's command line: values may hold spaces and quotes
            quoted = {name: value.replace("'", "''") for name, value in self.settings.items()}
            lines = [f"{name} = '{value}'" for name, value in quoted.items()]
            with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write("\n# set by services/registry/postgres.py\n" + "\n".join(lines) + "\n")

    def start(self) -> None:
        options = [f"-p {self.port}", f"-k {self.root / 'socket'}", "-c listen_addresses=127.0.0.1"]
        self._server(
            "pg_ctl", "start", "--wait", "--timeout=60", f"--pgdata={self.data_dir}", f"--log={self.log_file}",
            "-o", " ".join(options),
        )  # fmt: skip
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._server("pg_ctl", "stop", "--wait", f"--mode={mode}", f"--pgdata={self.data_dir}")
            self.running = False

    def create_database(self, name: str = "mlflow") -> None:
        """An empty database, as the postgres image creates POSTGRES_DB on a fresh volume."""
        env = {**os.environ, **self.database("postgres").libpq_env()}
        done = subprocess.run(
            [str(self.bin_dir / "createdb"), name], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise PostgresError(f"createdb {name} failed: {done.stderr.strip()}")

    def destroy(self) -> None:
        """The disaster: the server dies without a clean shutdown and its data folder is gone."""
        self.stop(mode="immediate")
        shutil.rmtree(self.data_dir)

    def close(self) -> None:
        """Stop the server (if running) and delete everything it wrote."""
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_postgres(settings: dict[str, str] | None = None, database: str = "mlflow") -> Iterator[LocalPostgres]:
    """A started server with an empty `database`; stopped and deleted on exit, whatever happens."""
    server = LocalPostgres(find_bin_dir(), Path(tempfile.mkdtemp(prefix="mlplat-pg-")), settings=dict(settings or {}))
    try:
        server.init()
        server.start()
        server.create_database(database)
        yield server
    finally:
        server.close()
