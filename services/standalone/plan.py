"""What standalone starts for a blueprint: a list of process specs, decided by a pure function.

The same generated monitoring config as the cluster (services.monitoring), with targets rewritten
to localhost. Ports come from `blueprints.naming.Ports`, shifted by an offset so two platforms
(or a test next to a developer's own) can run side by side. Tools that are not installed
(Prometheus, Alertmanager, the Pushgateway) are skipped and reported, never faked.

Beside the long-running processes, the plan lists the blueprint's batch jobs as schedules the
supervisor runs (services/standalone/scheduler.py), with the CronJob's own command line, and starts
the training trigger when a model declares training: Alertmanager routes the drift alert to it.

The registry runs MLflow's authentication app, as in the cluster (ADR 0017): a one-shot step after
MLflow creates the registry's users and grants (`mlplat registry bootstrap`, the cluster's Job), and
every process signs in as its own user through a credentials file (services/registry/credentials.py).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from blueprints.naming import Ports
from blueprints.schema import Blueprint
from services.features.repo import feature_repo, materialize_args, standalone_dir, standalone_store
from services.features.spec import feature_specs, specs_to_json
from services.model_server.command import serve_args
from services.model_server.server import ONLINE_STORE_ENV
from services.registry.access import ADMIN, GATE, MONITORING, access_plan, bootstrap_args, serving_user
from services.registry.credentials import FILE_ENV, credentials_file, standalone_credentials_dir
from services.registry.server import server_args
from services.standalone.scheduler import ScheduledJob

__all__ = ["ProcessSpec", "Plan", "plan", "oneshot", "find_binary", "BINARY_NAMES", "batch_data_dir", "ACCESS_PLAN"]

ACCESS_PLAN = Path("registry") / "access.json"  # under the root: who may do what in the registry

# Debian names some Prometheus tools with a prefix.
BINARY_NAMES: dict[str, tuple[str, ...]] = {
    "prometheus": ("prometheus",),
    "alertmanager": ("alertmanager", "prometheus-alertmanager"),
    "pushgateway": ("pushgateway", "prometheus-pushgateway"),
}


def find_binary(tool: str, which: Callable[[str], str | None] = shutil.which) -> str | None:
    for name in BINARY_NAMES.get(tool, (tool,)):
        path = which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: list[str]
    port: int
    health_path: str
    env: dict[str, str] = field(default_factory=dict)
    # a tenant's model server, so `mlplat status` can group by tenant and list what it serves
    tenant: str | None = None
    models: tuple[str, ...] = ()
    startup_timeout: float = 90.0
    # a step that runs to completion before the next component starts (e.g. the registry's users),
    # as a Job does in the cluster; it has no port and is not health-checked
    oneshot: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}{self.health_path}"


def oneshot(name: str, command: list[str], env: dict[str, str] | None = None, timeout: float = 300.0) -> ProcessSpec:
    return ProcessSpec(name, command, 0, "", dict(env or {}), startup_timeout=timeout, oneshot=True)


@dataclass(frozen=True)
class Plan:
    root: Path
    processes: list[ProcessSpec]
    skipped: dict[str, str]  # component -> why it is not started
    files: dict[Path, str]  # config files to write before starting
    schedules: list[ScheduledJob] = field(default_factory=list)  # batch jobs, run by the supervisor

    def by_name(self, name: str) -> ProcessSpec:
        return next(p for p in self.processes if p.name == name)


def batch_data_dir(root: Path, tenant: str) -> Path:
    """Where a tenant's batch jobs read and write in standalone (the cluster: each job's data volume)."""
    return root / "batch" / tenant


def plan(
    blueprint: Blueprint,
    root: Path,
    *,
    port_offset: int = 0,
    which: Callable[[str], str | None] = shutil.which,
    python: str = sys.executable,
    webhook_key: str = "",
) -> Plan:
    """The processes for `blueprint`, with data under `root`.

    `webhook_key` is the Fernet key MLflow encrypts stored webhook secrets with; it must stay the same
    across restarts (MLflow otherwise generates a new one per process and can no longer read the
    webhooks it stored), so the caller keeps it under `root` (see services/local_secrets.py).
    """
    import yaml

    from services.batch.command import batch_args
    from services.monitoring import alert_rules, alertmanager_config, prometheus_config
    from services.monitoring.config import RULES_FILE
    from services.monitoring.rules import ALERT_DRIFT
    from services.training.targets import targets_to_json, training_targets

    root = root.resolve()
    mlflow_port = Ports.MLFLOW + port_offset
    gate_port = Ports.GATE + port_offset
    tracking_uri = f"http://127.0.0.1:{mlflow_port}"
    # The registry's users (ADR 0017): one credentials file each, generated by `mlplat standalone`
    # before the plan runs; processes get the path of theirs, never the password.
    secrets_dir = standalone_credentials_dir(root)
    access = access_plan(blueprint, None)

    def signed_in(user: str) -> dict[str, str]:
        return {FILE_ENV: str(credentials_file(secrets_dir, user))}

    backend = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    mlflow_args = [
        "--backend-store-uri",
        backend,
        "--serve-artifacts",
        "--artifacts-destination",
        str(root / "mlflow" / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(mlflow_port),
        "--workers",
        "1",
        "--expose-prometheus",  # /metrics, which Prometheus scrapes signed in as platform.monitoring
        str(root / "mlflow" / "prometheus-metrics"),
    ]
    registry_server = server_args(
        mlflow_args,
        auth_database_uri=backend,  # users and grants beside the registry's data (ADR 0017)
        admin_credentials=str(credentials_file(secrets_dir, ADMIN)),
        flask_key_file=str(root / "secrets" / "mlflow-flask-key"),
    )
    processes: list[ProcessSpec] = [
        ProcessSpec(
            name="mlflow",
            command=[python, "-m", "services.cli", *registry_server],
            port=mlflow_port,
            health_path="/health",
            startup_timeout=120.0,
            # the gate's webhook receiver is plain http on loopback: allow MLflow to deliver there
            env={
                "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
                "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
                **({"MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": webhook_key} if webhook_key else {}),
            },
        ),
        # The registry's users and grants, the declared models and experiments, and the gate's
        # webhook (only the admin may register one): the cluster's bootstrap Job, run once here.
        oneshot(
            "registry-access",
            [
                python,
                "-m",
                "services.cli",
                *bootstrap_args(
                    str(root / ACCESS_PLAN),
                    tracking_uri,
                    admin_credentials=str(credentials_file(secrets_dir, ADMIN)),
                    credentials_dir=str(secrets_dir),
                    gate_webhook=f"http://127.0.0.1:{gate_port}/webhooks/mlflow",
                ),
            ],
            env={"MLPLAT_WEBHOOK_SECRET_FILE": str(root / "webhook-secret")},
        ),
        ProcessSpec(
            name="gate",
            command=[
                python,
                "-m",
                "services.cli",
                "gate",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(gate_port),
                "--tracking-uri",
                tracking_uri,
                "--audit-log",
                str(root / "audit" / "promotions.jsonl"),
            ],
            port=gate_port,
            health_path="/healthz",
            env={"MLPLAT_WEBHOOK_SECRET_FILE": str(root / "webhook-secret"), **signed_in(GATE)},
        ),
    ]
    serving_env = {"MLFLOW_TRACKING_URI": tracking_uri, "MLPLAT_MODEL_CACHE": str(root / "model-cache")}
    scrape: dict[str, list[dict]] = {"registry-server": [{"targets": [f"127.0.0.1:{mlflow_port}"]}]}
    files: dict[Path, str] = {root / ACCESS_PLAN: access.to_json()}

    # Feature stores: the Feast repository and the model servers' specs, generated from the blueprint,
    # on SQLite files; `feast apply` once before the model servers start, as the cluster's feature
    # server does before serving (docs/features.md).
    stores = {t.name: standalone_store(root, t.name) for t in blueprint.tenants if t.features is not None}
    for tenant in blueprint.tenants:
        if tenant.name not in stores:
            continue
        folder = standalone_dir(root, tenant.name)
        for name, text in feature_repo(tenant, stores[tenant.name]).items():
            files[folder / "repo" / name] = text
        files[folder / "serving.json"] = specs_to_json(feature_specs(tenant))
        processes.append(
            oneshot(
                f"features-{tenant.name}",
                [python, "-m", "services.cli", "features", "apply", "--repo", str(folder / "repo")],
            )
        )
    servers = []
    for index, tenant in enumerate(t for t in blueprint.tenants if t.models):
        port = Ports.MODEL_SERVER + port_offset + 1 + index
        grpc_port = Ports.MODEL_SERVER_GRPC + port_offset + 100 + index  # 8181, 8182, ...: clear of REST's ports
        features = str(standalone_dir(root, tenant.name) / "serving.json") if tenant.name in stores else None
        args = serve_args(tenant.models, "127.0.0.1", port, features_file=features, grpc_port=grpc_port)
        command = [python, "-m", "services.cli", *args, "--poll-interval", "5"]
        store_env = {ONLINE_STORE_ENV: stores[tenant.name].online_url} if tenant.name in stores else {}
        servers.append(
            ProcessSpec(
                name=f"serving-{tenant.name}",
                command=command,
                port=port,
                health_path="/v2/health/live",
                env={**serving_env, **signed_in(serving_user(tenant.name)), **store_env},
                tenant=tenant.name,
                models=tuple(m.name for m in tenant.models),
            )
        )
        scrape.setdefault("model-server", []).append(
            {"targets": [f"127.0.0.1:{port}"], "labels": {"tenant": tenant.name}}
        )
    processes += servers

    skipped: dict[str, str] = {}

    # Continuous training: the trigger, when a model declares training (Alertmanager calls it).
    targets = training_targets(blueprint)
    webhooks: dict[str, str] = {}
    if targets:
        trigger_port = Ports.TRAINING_TRIGGER + port_offset
        targets_file = root / "training" / "targets.json"
        files[targets_file] = targets_to_json(targets)
        processes.append(
            ProcessSpec(
                name="training-trigger",
                command=[
                    python,
                    "-m",
                    "services.cli",
                    "trigger",
                    "serve",
                    "--targets",
                    str(targets_file),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(trigger_port),
                    "--tracking-uri",
                    tracking_uri,
                    "--audit-log",
                    str(root / "audit" / "promotions.jsonl"),
                    "--log-dir",
                    str(root / "logs"),
                    "--credentials-dir",  # each run signs in as the model's tenant
                    str(secrets_dir),
                ],
                port=trigger_port,
                health_path="/healthz",
                env={"MLFLOW_TRACKING_URI": tracking_uri, **signed_in(GATE)},
            )
        )
        webhooks[ALERT_DRIFT] = f"http://127.0.0.1:{trigger_port}/alerts"
        scrape["training-trigger"] = [{"targets": [f"127.0.0.1:{trigger_port}"]}]
    else:
        skipped["training-trigger"] = "no model of this blueprint declares training"

    # Batch scoring: a Pushgateway for the runs' metrics, and the jobs' schedules for the supervisor.
    pushgateway = find_binary("pushgateway", which)
    gateway_address = f"127.0.0.1:{Ports.PUSHGATEWAY + port_offset}"
    if pushgateway:
        processes.append(
            ProcessSpec(
                name="pushgateway",
                command=[
                    pushgateway,
                    f"--web.listen-address={gateway_address}",
                    # the last success time of each job must survive a restart, or every job looks late
                    f"--persistence.file={root / 'pushgateway.metrics'}",
                ],
                port=Ports.PUSHGATEWAY + port_offset,
                health_path="/-/ready",
            )
        )
    else:
        skipped["pushgateway"] = "binary not on PATH (Debian: apt-get install prometheus-pushgateway)"
    schedules = []
    for tenant in blueprint.tenants:
        for job in tenant.batch:
            env = {
                "MLFLOW_TRACKING_URI": tracking_uri,
                "MLPLAT_MODEL_CACHE": str(root / "model-cache"),
                **signed_in(serving_user(tenant.name)),
            }
            if pushgateway:
                env["MLPLAT_PUSHGATEWAY"] = f"http://{gateway_address}"
            command = [
                python,
                "-m",
                "services.cli",
                *batch_args(job, tenant.name, str(batch_data_dir(root, tenant.name))),
            ]
            schedules.append(ScheduledJob(job.name, job.schedule, command, env, job.timeout_minutes * 60))
    for tenant in blueprint.tenants:  # the feature stores' materialization, on the cluster CronJobs' schedule
        if tenant.features is None:
            continue
        materialization = tenant.features.materialization
        command = [
            python,
            "-m",
            "services.cli",
            *materialize_args(str(standalone_dir(root, tenant.name) / "repo"), tenant.name, materialization.schedule),
        ]
        env = {"MLPLAT_PUSHGATEWAY": f"http://{gateway_address}"} if pushgateway else {}
        schedules.append(
            ScheduledJob(
                f"features-{tenant.name}",
                materialization.schedule,
                command,
                env,
                materialization.timeout_minutes * 60,
                kind="features",
            )
        )

    alertmanager = find_binary("alertmanager", which)
    am_port = Ports.ALERTMANAGER + port_offset
    if alertmanager:
        am_dir = root / "alertmanager"
        files[am_dir / "alertmanager.yml"] = yaml.safe_dump(alertmanager_config(webhooks), sort_keys=False)
        processes.append(
            ProcessSpec(
                name="alertmanager",
                command=[
                    alertmanager,
                    f"--config.file={am_dir / 'alertmanager.yml'}",
                    f"--storage.path={am_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                port=am_port,
                health_path="/-/ready",
            )
        )
    else:
        skipped["alertmanager"] = "binary not on PATH (Debian: apt-get install prometheus-alertmanager)"

    prometheus = find_binary("prometheus", which)
    if prometheus:
        prom_dir = root / "prometheus"
        prom_port = Ports.PROMETHEUS + port_offset
        config = prometheus_config(
            "static",
            alertmanagers=[f"127.0.0.1:{am_port}"] if alertmanager else [],
            rules_dir=str(prom_dir),
            static_targets=scrape,
            pushgateway=gateway_address if pushgateway else None,
            registry_passwords={"standalone": str(secrets_dir / f"{MONITORING}.password")},
        )
        config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{prom_port}"]}]
        files[prom_dir / "prometheus.yml"] = yaml.safe_dump(config, sort_keys=False)
        files[prom_dir / RULES_FILE] = yaml.safe_dump(alert_rules(blueprint.platform.monitoring), sort_keys=False)
        processes.append(
            ProcessSpec(
                name="prometheus",
                command=[
                    prometheus,
                    f"--config.file={prom_dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={prom_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--web.enable-lifecycle",
                ],
                port=prom_port,
                health_path="/-/ready",
            )
        )
    else:
        skipped["prometheus"] = "binary not on PATH (Debian: apt-get install prometheus)"
    return Plan(root=root, processes=processes, skipped=skipped, files=files, schedules=schedules)
