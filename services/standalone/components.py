"""The standalone platform's components, one function each, as infra/components/ has one class each.

Every function places one component of a blueprint on a `Site` and returns its `Part`: the processes
to start, the files to write first, the schedules the supervisor runs, the Prometheus targets it
exposes, and what it skips (with why). They run the same commands as the cluster's pods
(`mlplat serve`, `mlplat gate serve`, the batch and materialization commands) and read the same
generated configuration (services/monitoring, services/features), so what is tested here is what
the cluster deploys. services/standalone/plan.py composes them.

Tools that are not installed (Prometheus, Alertmanager, the Pushgateway) are skipped and reported,
never faked.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from blueprints.naming import Ports
from blueprints.schema import Blueprint
from services.features.repo import StoreConfig, feature_repo, materialize_args, standalone_dir, standalone_store
from services.features.spec import feature_specs, specs_to_json
from services.model_server.command import serve_args
from services.model_server.server import ONLINE_STORE_ENV
from services.registry.access import ADMIN, GATE, MONITORING, access_plan, bootstrap_args, serving_user
from services.registry.server import server_args
from services.standalone.scheduler import ScheduledJob
from services.standalone.spec import Part, ProcessSpec, Site, batch_data_dir, oneshot

__all__ = [
    "ACCESS_PLAN",
    "alertmanager",
    "batch_jobs",
    "feature_stores",
    "gate",
    "materialization",
    "model_servers",
    "prometheus",
    "pushgateway",
    "registry",
    "training_trigger",
]

ACCESS_PLAN = Path("registry") / "access.json"  # under the root: who may do what in the registry
AUDIT_LOG = Path("audit") / "promotions.jsonl"
WEBHOOK_SECRET = "webhook-secret"


def _not_installed(tool: str, package: str) -> Part:
    return Part(skipped={tool: f"binary not on PATH (Debian: apt-get install {package})"})


def tracking_uri(site: Site) -> str:
    return f"http://127.0.0.1:{site.port(Ports.MLFLOW)}"


def registry(site: Site, blueprint: Blueprint, webhook_key: str) -> Part:
    """MLflow with its authentication app (ADR 0017), then a one-shot step that creates the registry's users,
    grants, models and experiments and the gate's webhook: the cluster's bootstrap Job, run once here.

    `webhook_key` is the Fernet key MLflow encrypts stored webhook secrets with; it must stay the same
    across restarts (MLflow otherwise generates a new one per process and can no longer read the
    webhooks it stored), so the caller keeps it under the root (see services/local_secrets.py).
    """
    port, root = site.port(Ports.MLFLOW), site.root
    backend = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    mlflow_args = [
        *("--backend-store-uri", backend, "--serve-artifacts"),
        *("--artifacts-destination", str(root / "mlflow" / "artifacts")),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        "--expose-prometheus",  # /metrics, which Prometheus scrapes signed in as platform.monitoring
        str(root / "mlflow" / "prometheus-metrics"),
    ]
    server = server_args(
        mlflow_args,
        auth_database_uri=backend,  # users and grants beside the registry's data (ADR 0017)
        admin_credentials=site.credentials(ADMIN),
        flask_key_file=str(root / "secrets" / "mlflow-flask-key"),
    )
    bootstrap = bootstrap_args(
        str(root / ACCESS_PLAN),
        tracking_uri(site),
        admin_credentials=site.credentials(ADMIN),
        credentials_dir=str(site.secrets_dir),
        gate_webhook=f"http://127.0.0.1:{site.port(Ports.GATE)}/webhooks/mlflow",
    )
    # the gate's webhook receiver is plain http on loopback: allow MLflow to deliver there
    env = {"MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true", "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https"}
    if webhook_key:
        env["MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY"] = webhook_key
    return Part(
        processes=[
            ProcessSpec("mlflow", site.mlplat(*server), port, "/health", env, startup_timeout=120.0),
            oneshot(
                "registry-access",
                site.mlplat(*bootstrap),
                env={"MLPLAT_WEBHOOK_SECRET_FILE": str(root / WEBHOOK_SECRET)},
            ),
        ],
        files={root / ACCESS_PLAN: access_plan(blueprint, None).to_json()},
        scrape={"registry-server": [{"targets": [f"127.0.0.1:{port}"]}]},
    )


def gate(site: Site) -> Part:
    """The promotion gate's webhook receiver: MLflow tells it of new versions and alias moves."""
    port = site.port(Ports.GATE)
    command = site.mlplat(
        *("gate", "serve", "--host", "127.0.0.1", "--port", str(port)),
        *("--tracking-uri", tracking_uri(site), "--audit-log", str(site.root / AUDIT_LOG)),
    )
    env = {"MLPLAT_WEBHOOK_SECRET_FILE": str(site.root / WEBHOOK_SECRET), **site.signed_in(GATE)}
    return Part(processes=[ProcessSpec("gate", command, port, "/healthz", env)])


def feature_stores(site: Site, blueprint: Blueprint) -> tuple[Part, dict[str, StoreConfig]]:
    """Each tenant's Feast repository and the model servers' specs, generated from the blueprint, on SQLite
    files; `feast apply` once before the model servers start, as the cluster's feature server does before
    serving (docs/features.md). Returns the part and each tenant's store."""

    part, stores = Part(), {}
    for tenant in (t for t in blueprint.tenants if t.features is not None):
        stores[tenant.name] = store = standalone_store(site.root, tenant.name)
        folder = standalone_dir(site.root, tenant.name)
        for name, text in feature_repo(tenant, store).items():
            part.files[folder / "repo" / name] = text
        part.files[folder / "serving.json"] = specs_to_json(feature_specs(tenant))
        part.processes.append(
            oneshot(f"features-{tenant.name}", site.mlplat("features", "apply", "--repo", str(folder / "repo")))
        )
    return part, stores


def model_servers(site: Site, blueprint: Blueprint, stores: dict[str, StoreConfig]) -> Part:
    """One model server per tenant with models, signed in as the tenant's serving user, reading features
    from the tenant's online store when it has one."""
    part = Part()
    serving_env = {"MLFLOW_TRACKING_URI": tracking_uri(site), "MLPLAT_MODEL_CACHE": str(site.root / "model-cache")}
    for index, tenant in enumerate(t for t in blueprint.tenants if t.models):
        port = site.port(Ports.MODEL_SERVER) + 1 + index
        grpc_port = site.port(Ports.MODEL_SERVER_GRPC) + 100 + index  # 8181, 8182, ...: clear of REST's ports
        store = stores.get(tenant.name)
        features = str(standalone_dir(site.root, tenant.name) / "serving.json") if store else None
        args = serve_args(tenant.models, "127.0.0.1", port, features_file=features, grpc_port=grpc_port)
        command = site.mlplat(*args)
        store_env = {ONLINE_STORE_ENV: store.online_url} if store else {}
        part.processes.append(
            ProcessSpec(
                name=f"serving-{tenant.name}",
                command=[*command, "--poll-interval", "5"],
                port=port,
                health_path="/v2/health/live",
                env={**serving_env, **site.signed_in(serving_user(tenant.name)), **store_env},
                tenant=tenant.name,
                models=tuple(m.name for m in tenant.models),
            )
        )
        part.scrape.setdefault("model-server", []).append(
            {"targets": [f"127.0.0.1:{port}"], "labels": {"tenant": tenant.name}}
        )
    return part


def training_trigger(site: Site, blueprint: Blueprint) -> tuple[Part, dict[str, str]]:
    """The continuous-training trigger, when a model declares training; returns the part and the webhook
    Alertmanager sends the drift alert to."""
    from services.monitoring.rules import ALERT_DRIFT
    from services.training.targets import targets_to_json, training_targets

    targets = training_targets(blueprint)
    if not targets:
        return Part(skipped={"training-trigger": "no model of this blueprint declares training"}), {}
    port, root = site.port(Ports.TRAINING_TRIGGER), site.root
    targets_file = root / "training" / "targets.json"
    command = site.mlplat(
        *("trigger", "serve", "--targets", str(targets_file), "--host", "127.0.0.1", "--port", str(port)),
        *("--tracking-uri", tracking_uri(site), "--audit-log", str(root / AUDIT_LOG)),
        *("--log-dir", str(root / "logs")),
        *("--credentials-dir", str(site.secrets_dir)),  # each run signs in as the model's tenant
    )
    env = {"MLFLOW_TRACKING_URI": tracking_uri(site), **site.signed_in(GATE)}
    part = Part(
        processes=[ProcessSpec("training-trigger", command, port, "/healthz", env)],
        files={targets_file: targets_to_json(targets)},
        scrape={"training-trigger": [{"targets": [f"127.0.0.1:{port}"]}]},
    )
    return part, {ALERT_DRIFT: f"http://127.0.0.1:{port}/alerts"}


def pushgateway(site: Site) -> tuple[Part, str | None]:
    """The Pushgateway batch runs and materializations push their metrics to; returns its address."""
    binary = site.binary("pushgateway")
    if not binary:
        return Part(
            skipped={"pushgateway": "binary not on PATH (Debian: apt-get install prometheus-pushgateway)"}
        ), None
    address = f"127.0.0.1:{site.port(Ports.PUSHGATEWAY)}"
    command = [
        binary,
        f"--web.listen-address={address}",
        # the last success time of each job must survive a restart, or every job looks late
        f"--persistence.file={site.root / 'pushgateway.metrics'}",
    ]
    return Part(processes=[ProcessSpec("pushgateway", command, site.port(Ports.PUSHGATEWAY), "/-/ready")]), address


def batch_jobs(site: Site, blueprint: Blueprint, gateway: str | None) -> Part:
    """Each batch job's CronJob command on its schedule, run by the supervisor."""
    from services.batch.command import batch_args

    part = Part()
    for tenant in blueprint.tenants:
        for job in tenant.batch:
            env = {
                "MLFLOW_TRACKING_URI": tracking_uri(site),
                "MLPLAT_MODEL_CACHE": str(site.root / "model-cache"),
                **site.signed_in(serving_user(tenant.name)),
            }
            if gateway:
                env["MLPLAT_PUSHGATEWAY"] = f"http://{gateway}"
            command = site.mlplat(*batch_args(job, tenant.name, str(batch_data_dir(site.root, tenant.name))))
            part.schedules.append(ScheduledJob(job.name, job.schedule, command, env, job.timeout_minutes * 60))
    return part


def materialization(site: Site, blueprint: Blueprint, gateway: str | None) -> Part:
    """Each feature store's materialization, on the schedule of the cluster's CronJob."""
    part = Part()
    for tenant in (t for t in blueprint.tenants if t.features is not None):
        settings = tenant.features.materialization
        repo = str(standalone_dir(site.root, tenant.name) / "repo")
        command = site.mlplat(*materialize_args(repo, tenant.name, settings.schedule))
        env = {"MLPLAT_PUSHGATEWAY": f"http://{gateway}"} if gateway else {}
        job = ScheduledJob(
            f"features-{tenant.name}", settings.schedule, command, env, settings.timeout_minutes * 60, kind="features"
        )
        part.schedules.append(job)
    return part


def llm(site: Site, blueprint: Blueprint) -> Part:
    """LLM serving (docs/llm.md): every replica of each tenant's LLMs, the embeddings and the gateway, as the
    cluster's LLMService and LLMGateway; the semantic cache only with PostgreSQL and pgvector (MLPLAT_LLM_CACHE_DSN)."""
    if blueprint.platform.llm is None:
        return Part()
    from services.llm.standalone import gateway_port, llm_processes

    served = llm_processes(
        blueprint,
        site.root,
        tracking_uri=tracking_uri(site),
        port_offset=site.port_offset,
        python=site.python,
        signed_in=lambda tenant: site.signed_in(serving_user(tenant)),
    )
    scrape = {"llm-gateway": [{"targets": [f"127.0.0.1:{gateway_port(site.port_offset)}"]}]}
    return Part(processes=served.processes, files=served.files, skipped=served.skipped, scrape=scrape)


def federated(site: Site, blueprint: Blueprint) -> Part:
    """Each scheduled federated run (ADR 0023) as the cluster's CronJob runs it: `mlplat fl run --spec`."""
    from services.federated.standalone import federated_standalone

    pieces = federated_standalone(blueprint, site.root, python=site.python)
    return Part(schedules=pieces.schedules, files=pieces.files)


def compliance_check(site: Site, blueprint: Blueprint, gateway: str | None) -> Part:
    """The compliance report on the blueprint's schedule, as the cluster's CronJob runs it (ADR 0024), against
    the blueprint as a file (the cluster's ConfigMap), signed in as the gate, with the OPA found on the site."""
    if blueprint.platform.compliance is None:
        return Part()
    import yaml

    from services.compliance.standalone import compliance_schedule

    opa = site.binary("opa")
    document = site.root / "compliance" / "blueprint.yaml"
    schedules, skipped = compliance_schedule(
        blueprint,
        str(document),
        site.root,
        tracking_uri=tracking_uri(site),
        env={**site.signed_in(GATE), **({"MLPLAT_OPA": opa} if opa else {})},
        pushgateway=f"http://{gateway}" if gateway else None,
        opa_available=opa is not None,
        python=site.python,
    )
    dumped = blueprint.model_dump(by_alias=True, mode="json", exclude_none=True)
    files = {document: yaml.safe_dump(dumped, sort_keys=False)} if schedules else {}
    return Part(schedules=schedules, skipped=skipped, files=files)


def alertmanager(site: Site, webhooks: dict[str, str]) -> tuple[Part, str | None]:
    """Alertmanager with the generated routes (the drift alert to the training trigger); returns its address."""
    from services.monitoring import alertmanager_config

    binary = site.binary("alertmanager")
    if not binary:
        return Part(
            skipped={"alertmanager": "binary not on PATH (Debian: apt-get install prometheus-alertmanager)"}
        ), None
    port, folder = site.port(Ports.ALERTMANAGER), site.root / "alertmanager"
    command = [
        binary,
        f"--config.file={folder / 'alertmanager.yml'}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    config = yaml.safe_dump(alertmanager_config(webhooks), sort_keys=False)
    part = Part(processes=[ProcessSpec("alertmanager", command, port, "/-/ready")])
    part.files[folder / "alertmanager.yml"] = config
    return part, f"127.0.0.1:{port}"


def prometheus(
    site: Site, blueprint: Blueprint, scrape: dict[str, list[dict]], alerts: str | None, gateway: str | None
) -> Part:
    """Prometheus with the cluster's generated alert rules, scraping the given targets on loopback."""
    from services.monitoring import alert_rules, prometheus_config
    from services.monitoring.config import RULES_FILE

    binary = site.binary("prometheus")
    if not binary:
        return _not_installed("prometheus", "prometheus")
    folder, port = site.root / "prometheus", site.port(Ports.PROMETHEUS)
    config = prometheus_config(
        "static",
        alertmanagers=[alerts] if alerts else [],
        rules_dir=str(folder),
        static_targets=scrape,
        pushgateway=gateway,
        registry_passwords={"standalone": str(site.secrets_dir / f"{MONITORING}.password")},
    )
    config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    command = [
        binary,
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    part = Part(processes=[ProcessSpec("prometheus", command, port, "/-/ready")])
    part.files[folder / "prometheus.yml"] = yaml.safe_dump(config, sort_keys=False)
    part.files[folder / RULES_FILE] = yaml.safe_dump(alert_rules(blueprint.platform.monitoring), sort_keys=False)
    return part
