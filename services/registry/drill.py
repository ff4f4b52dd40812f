"""The DR drill: lose the registry database for real, restore it, and measure what it cost.

Against a real PostgreSQL (a throwaway server, services/registry/postgres.py) and a real MLflow
server on it, with its authentication app as the cluster runs it (users and grants in the same
database), the drill
  1. registers models with versions, tags, descriptions and aliases, and lets the real promotion
     gate decide (passes and a fail), so decision tags and audit-log entries exist;
  2. takes a snapshot of the registry and then a backup with backup.sh, the script the CronJob runs;
  3. makes more changes (a new version promoted by the gate, a tag, a new model);
  4. destroys the database: the server dies without shutdown and its data folder is deleted;
  5. provisions an empty database (as a new volume would), restores with restore.sh (the restore
     Job's script) and restarts MLflow, until the registry serves reads again;
  6. compares the restored registry with the backup-time snapshot field by field (they must be
     equal), checks that a user and its grant came back (it reads its model and is refused a
     write), and compares with the state just before the disaster (the differences must be exactly the
     changes of step 3: that is the data the backup schedule puts at risk, the RPO).
RTO is measured from the destruction to the first successful reads (every model's champion
resolves); RPO is reported as the changes lost and the time between the backup and the disaster.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.registry.backups import restore_backup, take_backup
from services.registry.credentials import Credentials, acting_as, generate_password
from services.registry.postgres import LocalPostgres, find_bin_dir, free_port, throwaway_postgres
from services.registry.snapshot import Snapshot, capture, compare

__all__ = ["Drill", "DrillReport", "DrillError", "MAX_MODELS", "MAX_VERSIONS"]

MAX_MODELS = 10
MAX_VERSIONS = 10
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
VERSION_TAGS = {"owner": "dr-drill", "training_data_digest": "sklearn:iris", "code_version": "drill"}
REVIEWER = "dr-reviewer"
LATE_MODEL = "drill-late"
READER = "drill.reader"


class DrillError(RuntimeError):
    pass


@dataclass(frozen=True)
class Change:
    """A write made after the backup: what the restore must lose, and which models it touched."""

    description: str
    models: frozenset[str]


@dataclass
class DrillReport:
    postgres: str
    mlflow: str
    models: int
    versions_per_model: int
    at_backup: dict[str, int]
    backup: dict[str, Any]
    changes_after_backup: list[str]
    reads_failed_after_destroy: bool
    seconds: dict[str, float]  # each phase; `rto` and `data_loss_window` are the headline figures
    restored_vs_backup: dict[str, Any]
    lost: list[str]
    audit: dict[str, Any]
    champions_loaded: int
    access_restored: bool = False  # a user's sign-in and grant work as before (users live in the database)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "passed": self.passed}, indent=2, sort_keys=True)

    def text(self) -> str:
        s, compared = self.seconds, self.restored_vs_backup
        cats = [c for c in compared if c != "differences"]
        fields = sum(compared[c]["fields"] for c in cats)
        equal = sum(compared[c]["equal"] for c in cats)
        lines = [
            f"DR drill on PostgreSQL {self.postgres} with MLflow {self.mlflow}: "
            f"{self.models} models x {self.versions_per_model} versions",
            "",
            "restored registry vs the state at the backup, field by field:",
            *(
                f"  {c:<9} {compared[c]['matched']:>3}/{compared[c]['items']:<3} items equal, "
                f"{compared[c]['equal']:>4}/{compared[c]['fields']} fields"
                for c in cats
            ),
            f"  total     {equal}/{fields} fields equal, {len(compared['differences'])} differences",
            "",
            f"lost (RPO): {len(self.lost)} differences from {len(self.changes_after_backup)} changes made "
            f"after the backup, {s['data_loss_window']:.1f}s of writes; exactly those changes:",
            *(f"  - {change}" for change in self.changes_after_backup),
            f"audit log: {self.audit['entries']} entries, hash chain "
            f"{'intact' if self.audit['chain_intact'] else 'BROKEN'}; "
            f"{self.audit['linked']} linked from the restored registry; "
            f"{self.audit['after_backup']} written after the backup (the promotions to re-run)",
            "",
            f"RTO: {s['rto']:.1f}s from destroying the database to serving reads again "
            f"(confirm the outage and stop MLflow {s['detect_and_stop_mlflow']:.1f}s, "
            f"empty database {s['provision']:.1f}s, restore.sh {s['restore']:.1f}s, "
            f"MLflow start and first reads {s['mlflow_start']:.1f}s); "
            f"backup {self.backup['bytes']} bytes in {s['backup']:.1f}s",
            f"champions loadable after the restore: {self.champions_loaded}/{self.models}",
            f"users and grants restored: {'yes' if self.access_restored else 'NO'} ({READER} reads its model, "
            "and is refused a write)",
        ]
        if self.problems:
            lines += ["", "PROBLEMS:", *(f"  - {p}" for p in self.problems)]
        else:
            lines += ["", "drill passed"]
        return "\n".join(lines)


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Client calls fail at once instead of retrying for minutes (a dead registry is the point), and
    MLflow's per-run chatter stays out of the drill's report."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.update({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"})
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Mlflow:
    """The MLflow server on the drill's database, run by the standalone supervisor, as the cluster runs it:
    with its authentication app, users and grants in the same database (ADR 0017)."""

    def __init__(self, root: Path, backend: str):
        from services.registry.access import ADMIN
        from services.registry.credentials import credentials_file, ensure_credentials
        from services.registry.server import server_args
        from services.standalone.plan import Plan, ProcessSpec

        port = free_port()
        secrets_dir = root / "secrets"
        self.admin = ensure_credentials(secrets_dir, ADMIN)
        args = server_args(
            [
                "--backend-store-uri", backend,
                "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            ],
            auth_database_uri=backend,
            admin_credentials=str(credentials_file(secrets_dir, ADMIN)),
            flask_key_file=str(secrets_dir / "flask-secret-key"),
        )  # fmt: skip
        spec = ProcessSpec(
            name="mlflow",
            command=[sys.executable, "-m", "services.cli", *args],
            port=port,
            health_path="/health",
            startup_timeout=120.0,
        )
        self.plan = Plan(root, [spec], {}, {})
        self.uri = spec.url
        self._supervisor = None

    def start(self) -> None:
        from services.standalone.supervisor import Supervisor

        # MLflow holds no state of its own (it is all in PostgreSQL and the artifact folder), so a short
        # grace before SIGKILL is safe and keeps the restart out of the way of the measurement.
        self._supervisor = Supervisor(self.plan, log=lambda line: None, grace_seconds=3.0)
        self._supervisor.start()

    def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.stop()
            self._supervisor = None


@dataclass
class Drill:
    models: int = 2
    versions: int = 2
    root: Path | None = None  # keeps backups and logs here; a temporary folder (deleted) when None
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    read_timeout: float = 180.0

    def __post_init__(self) -> None:
        if not 1 <= self.models <= MAX_MODELS:
            raise ValueError(f"--models {self.models}: use 1 to {MAX_MODELS} (the drill is bounded so it stays quick)")
        if not 1 <= self.versions <= MAX_VERSIONS:
            raise ValueError(
                f"--versions {self.versions}: use 1 to {MAX_VERSIONS} (the drill is bounded so it stays quick)"
            )

    def run(self) -> DrillReport:
        if self.root is not None:
            if (self.root / "standalone.json").exists():
                raise DrillError(
                    f"{self.root} belongs to a running standalone platform: keep the drill's files elsewhere "
                    "(e.g. --keep drill-out)"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            return self._run(self.root)
        with tempfile.TemporaryDirectory(prefix="mlplat-drill-") as folder:
            return self._run(Path(folder))

    def _run(self, root: Path) -> DrillReport:
        import mlflow
        from mlflow.tracking import MlflowClient

        from services.promotion_gate.audit import AuditLog
        from services.promotion_gate.rules import load_rules

        tools = find_bin_dir()
        audit = AuditLog(root / "audit" / "promotions.jsonl")  # on its own storage, like the backups
        rules = load_rules()
        with _quiet_mlflow(), throwaway_postgres() as pg:
            self.say(f"[1/6] PostgreSQL {pg.version()} on 127.0.0.1:{pg.port} (data in {pg.data_dir})")
            server = _Mlflow(root, pg.database().url)
            server.start()
            try:
                mlflow.set_tracking_uri(server.uri)
                client = MlflowClient(server.uri)
                names = [f"drill-{index + 1}" for index in range(self.models)]
                self.say(
                    f"      MLflow {mlflow.__version__} at {server.uri} with its auth app; registering "
                    f"{len(names)} models as {server.admin.username}"
                )
                with acting_as(server.admin):
                    return self._drill(pg, server, client, audit, rules, names, root, tools)
            finally:
                server.stop()

    def _drill(self, pg, server, client, audit, rules, names, root, tools) -> DrillReport:
        """Steps 1 (after the server started) to 6, signed in as the registry's admin."""
        self._populate(client, rules, audit, names)
        reader = self._grant_reader(server.uri, names[0])

        at_backup = capture(client, audit.entries())
        entries_at_backup = len(audit.entries())
        self.say(f"[2/6] backup with backup.sh: registry holds {_counts(at_backup)}")
        backup = take_backup(pg.database(), root / "backups", retain=3, tools=tools)
        backup_done = time.monotonic()
        self.say(f"      {backup.path.name}: {backup.size} bytes in {backup.seconds:.1f}s, verified")

        self.say("[3/6] changes after the backup (the restore must lose exactly these)")
        changes = self._after_backup(client, rules, audit, names)
        for change in changes:
            self.say(f"      - {change.description}")
        before_disaster = capture(client, audit.entries())

        self.say("[4/6] destroying the database: server killed, data folder deleted")
        pg.destroy()
        destroyed = time.monotonic()  # the clocks start when the data is gone
        reads_failed = not _reads_ok(client, names)
        self.say(f"      registry reads now {'fail' if reads_failed else 'STILL SUCCEED'}")

        self.say("[5/6] restore: MLflow stopped, empty database, restore.sh, MLflow started")
        # Stopped first, as the guide scales it to 0: a starting MLflow would create its schema in
        # the empty database, and restore.sh would then (rightly) want --force.
        server.stop()
        phase = time.monotonic()
        _provision(pg)
        provisioned = time.monotonic()
        restored_run = restore_backup(pg.database(), backup.path, tools=tools)
        restored_at = time.monotonic()
        server.start()
        self._wait_reads(client, names)
        serving = time.monotonic()
        seconds = {
            "backup": backup.seconds,
            "detect_and_stop_mlflow": phase - destroyed,
            "provision": provisioned - phase,
            "restore": restored_at - provisioned,
            "mlflow_start": serving - restored_at,
            "rto": serving - destroyed,
            "data_loss_window": destroyed - backup_done,
        }
        self.say(f"      serving reads again {seconds['rto']:.1f}s after the disaster")
        for line in restored_run.output.splitlines():
            self.say(f"      restore.sh: {line}")

        self.say("[6/6] verify field by field, and load every champion from the restored registry")
        restored = capture(client, audit.entries())
        return self._report(
            pg,
            (at_backup, before_disaster, restored),
            changes,
            audit,
            entries_at_backup,
            backup,
            seconds,
            reads_failed=reads_failed,
            champions_loaded=_load_champions(names),
            access_restored=_reader_restored(server.uri, reader, names[0]),
        )

    def _grant_reader(self, uri: str, model: str) -> Credentials:
        """A user allowed to read one model, and nothing else: the restore must bring back users and
        grants with the registry (they live in its database), not only models."""
        from mlflow.server.auth.client import AuthServiceClient

        reader = Credentials(READER, generate_password())
        auth = AuthServiceClient(uri)
        auth.create_user(reader.username, reader.password)
        auth.grant_user_permission(reader.username, "registered_model", model, "READ")
        return reader

    # -- the registry's content ------------------------------------------------------------------

    def _populate(self, client, rules, audit, names: list[str]) -> None:
        from services.promotion_gate.gate import promote

        for index, name in enumerate(names):
            versions = [_register(client, name, c=1.0 if v == 0 else 0.5, approve=True) for v in range(self.versions)]
            client.update_registered_model(name, description=f"Drill model {index + 1}: iris LogisticRegression.")
            client.set_registered_model_tag(name, "team", f"team-{index % 3 + 1}")
            client.set_registered_model_tag(name, "tier", "critical" if index == 0 else "standard")
            _must_pass(promote(client, rules, audit, name, versions[0], "champion", actor="dr-drill"))
            if len(versions) > 1:
                _must_pass(promote(client, rules, audit, name, versions[1], "challenger", actor="dr-drill"))
        # A failed decision too: recorded on the version and in the audit log, alias unmoved.
        unapproved = _register(client, names[0], c=1.0, approve=False)
        failed = promote(client, rules, audit, names[0], unapproved, "champion", actor="dr-drill")
        if failed.passed:
            raise DrillError(f"{names[0]} v{unapproved} has no approval but passed the gate: check the rule file")

    def _after_backup(self, client, rules, audit, names: list[str]) -> list[Change]:
        from services.promotion_gate.gate import promote

        first = names[0]
        version = _register(client, first, c=1.0, approve=True)
        _must_pass(promote(client, rules, audit, first, version, "champion", actor="dr-drill"))
        last = names[-1]
        client.set_registered_model_tag(last, "reviewed", "after-backup")
        client.create_registered_model(LATE_MODEL, description="Registered after the backup.")
        return [
            Change(f"{first}: version {version} registered and promoted to @champion by the gate", frozenset({first})),
            Change(f"{last}: model tag reviewed=after-backup set", frozenset({last})),
            Change(f"{LATE_MODEL}: a new registered model", frozenset({LATE_MODEL})),
        ]

    def _wait_reads(self, client, names: list[str]) -> None:
        deadline = time.monotonic() + self.read_timeout
        while time.monotonic() < deadline:
            if _reads_ok(client, names):
                return
            time.sleep(0.2)
        raise DrillError(f"the restored registry did not serve reads within {self.read_timeout:.0f}s")

    def _report(
        self,
        pg: LocalPostgres,
        snapshots: tuple[Snapshot, Snapshot, Snapshot],
        changes: list[Change],
        audit,
        entries_at_backup: int,
        backup,
        seconds: dict[str, float],
        *,
        reads_failed: bool,
        champions_loaded: int,
        access_restored: bool,
    ) -> DrillReport:
        """Every check of the drill; each failed one becomes a line in `problems`."""
        import mlflow

        at_backup, before_disaster, restored = snapshots
        problems: list[str] = []
        if not reads_failed:
            problems.append("reads kept working after the database was destroyed: nothing was tested")
        if champions_loaded != self.models:
            problems.append(f"only {champions_loaded}/{self.models} champions load after the restore")
        if not access_restored:
            problems.append(f"{READER}'s sign-in and grant (READ on one model) did not survive the restore")
        versus_backup = compare(at_backup, restored)
        problems += [f"restored differs from the backup: {d}" for d in versus_backup.differences]
        lost = compare(before_disaster, restored).differences
        touched = set().union(*(c.models for c in changes))
        problems += [f"lost a change not made after the backup: {d}" for d in lost if d.model not in touched]
        problems += [
            f"a change after the backup was not lost: {c.description}"
            for c in changes
            if not any(d.model in c.models for d in lost)
        ]
        try:
            entries, chain_intact = audit.verify(), True
        except ValueError as exc:
            problems.append(f"audit log: {exc}")
            entries, chain_intact = len(audit.entries()), False
        late = {e["hash"] for e in audit.entries()[entries_at_backup:]}
        problems += [
            f"audit entry {h[:12]} written after the backup is linked from the restored registry"
            for h in late
            if h in restored.audit
        ]
        problems += [
            f"version decision for audit entry {h[:12]} does not match the audit log"
            for h, fields in restored.audit.items()
            if not (fields.get("in_audit_log") and fields.get("agrees_with_version_tag"))
        ]
        return DrillReport(
            postgres=pg.version(),
            mlflow=mlflow.__version__,
            models=self.models,
            versions_per_model=self.versions,
            at_backup=at_backup.counts(),
            backup={"file": backup.path.name, "bytes": backup.size, "sha256": backup.sha256},
            changes_after_backup=[c.description for c in changes],
            reads_failed_after_destroy=reads_failed,
            seconds={k: round(v, 2) for k, v in seconds.items()},
            restored_vs_backup=versus_backup.as_dict(),
            lost=[str(d) for d in lost],
            audit={
                "entries": entries,
                "chain_intact": chain_intact,
                "linked": len(restored.audit),
                "after_backup": len(late),
            },
            champions_loaded=champions_loaded,
            access_restored=access_restored,
            problems=problems,
        )


def _counts(snapshot: Snapshot) -> str:
    return ", ".join(f"{n} {category}" for category, n in snapshot.counts().items())


def _provision(pg: LocalPostgres) -> None:
    """What Kubernetes gives after losing the volume: a new empty data folder, the server, an empty database."""
    pg.init()
    pg.start()
    pg.create_database()


def _reads_ok(client, names: list[str]) -> bool:
    try:
        for name in names:
            client.get_model_version_by_alias(name, "champion")
        return True
    except Exception:  # MLflow raises several types for "no answer" and "server error"
        return False


def _must_pass(decision) -> None:
    if not decision.passed:
        raise DrillError(f"the gate refused {decision.model} v{decision.version}:\n{decision.table()}")


def _register(client, name: str, *, c: float, approve: bool) -> str:
    """Train an iris LogisticRegression, log it as the platform's training code does, register it."""
    import mlflow
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from services.model_server.reference import log_reference
    from services.promotion_gate import registry

    data = load_iris()
    frame = pd.DataFrame(data.data, columns=FEATURES)
    train_x, test_x, train_y, test_y = train_test_split(frame, data.target, test_size=0.3, random_state=0)
    estimator = LogisticRegression(C=c, max_iter=500).fit(train_x, train_y)
    # MLflow prints run links and registration notes straight to stdout/stderr: keep them out of the report.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        mlflow.set_experiment(f"{name}-training")
        with mlflow.start_run():
            mlflow.log_param("C", c)
            mlflow.log_metric("accuracy", float(estimator.score(test_x, test_y)))
            log_reference(train_x)
            info = mlflow.sklearn.log_model(
                estimator,
                name="model",
                signature=infer_signature(train_x, train_y),
                input_example=train_x.head(3),
                registered_model_name=name,
                # Named, so MLflow does not infer them by loading the model in a subprocess (seconds per version).
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            )
    version = str(info.registered_model_version)
    for key, value in VERSION_TAGS.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=f"{name} v{version}: C={c}. Intended for the DR drill.")
    if approve:
        registry.approve(client, name, version, REVIEWER)
    return version


def _reader_restored(uri: str, reader: Credentials, model: str) -> bool:
    """The reader signs in, reads its model, and is refused a write (403): user and grant are back."""
    from mlflow.tracking import MlflowClient

    with acting_as(reader):
        client = MlflowClient(uri)
        try:
            client.get_registered_model(model)
        except Exception:
            return False
        try:
            client.set_registered_model_tag(model, "written-by", READER)
        except Exception as exc:
            return getattr(exc, "error_code", "") == "PERMISSION_DENIED"
        return False


def _load_champions(names: list[str]) -> int:
    """Each model's champion loads from the restored registry and predicts (artifacts still linked)."""
    import mlflow
    import pandas as pd
    from sklearn.datasets import load_iris

    rows = pd.DataFrame(load_iris().data[:5], columns=FEATURES)
    loaded = 0
    for name in names:
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # download progress bars
                model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
            loaded += int(len(model.predict(rows)) == len(rows))
        except Exception:  # reported as a count; the report names the shortfall
            continue
    return loaded
