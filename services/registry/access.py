"""Who may do what in a registry: MLflow basic-auth users and permissions, decided from the blueprint.

Every registry runs MLflow's authentication app (`mlflow server --app-name basic-auth`, see
server.py) with `default_permission = NO_PERMISSIONS`: a user sees and changes only what it was
granted. `access_plan()` decides the grants from the blueprint, a pure function; `apply()` makes a
running registry match it, idempotently, as its admin. ADR 0017 explains the model.

Users of one registry (the shared one, or a tenant's dedicated one):

    platform.admin     MLflow admin; only the bootstrap (this module) and break-glass use it
    platform.monitoring  Prometheus: signs in to scrape the registry's /metrics; no grants at all
    platform.gate      the promotion gate and the training trigger: MANAGE on every registered
                       model (it records decisions and moves aliases, and the alias guard deletes
                       them), READ on every experiment (metrics, artifacts), EDIT on the experiments
                       of models the trigger retrains (it creates their runs)
    <tenant>           the team (training, `mlplat demo`): EDIT on its models and their experiments
    <tenant>.serving   its model servers and batch jobs: READ on its models and their experiments

Tenant names are DNS labels, so `<tenant>.serving` can never be another tenant's name, and
`platform.*` names no tenant either. Each declared model and its experiment (`<tenant>-<model>`,
where training runs log) are created by the bootstrap, owned by no tenant: a tenant cannot squat on
another's model name, because by the time it has credentials the name exists and is not granted
to it. Registered model names are global in an MLflow server, which is why the blueprint refuses
the same model name in two tenants of the shared registry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from blueprints.schema import Blueprint
from services.registry.credentials import Credentials, acting_as

__all__ = [
    "ADMIN",
    "GATE",
    "MONITORING",
    "Grant",
    "AccessPlan",
    "AccessError",
    "access_plan",
    "registry_instances",
    "tenant_user",
    "serving_user",
    "password_env",
    "bootstrap_args",
    "apply",
]

log = logging.getLogger("mlplat.registry")

ADMIN = "platform.admin"
GATE = "platform.gate"
MONITORING = "platform.monitoring"
MODEL, EXPERIMENT = "registered_model", "experiment"
OWNER_TAG = "platform.mlops/owner"


class AccessError(RuntimeError):
    """The registry refused or failed a bootstrap step; the message names the step."""


def tenant_user(tenant: str) -> str:
    return tenant


def serving_user(tenant: str) -> str:
    return f"{tenant}.serving"


def password_env(user: str) -> str:
    """The environment variable the cluster's bootstrap Job reads a user's password from."""
    return "MLPLAT_PASSWORD_" + "".join(c if c.isalnum() else "_" for c in user.upper())


def bootstrap_args(
    plan_file: str,
    tracking_uri: str,
    *,
    admin_credentials: str | None = None,
    credentials_dir: str | None = None,
    gate_webhook: str | None = None,
) -> list[str]:
    """`mlplat registry bootstrap` and its flags: the cluster's Job and standalone's start-up step run this
    one command. Without files, the admin signs in from MLFLOW_TRACKING_USERNAME/PASSWORD and each user's
    password comes from `password_env(user)` (the Job sets both from Secrets)."""
    args = ["registry", "bootstrap", "--plan", plan_file, "--tracking-uri", tracking_uri]
    if admin_credentials:
        args += ["--admin-credentials", admin_credentials]
    if credentials_dir:
        args += ["--credentials-dir", credentials_dir]
    if gate_webhook:
        args += ["--gate-webhook", gate_webhook]
    return args


@dataclass(frozen=True)
class Grant:
    user: str
    resource: str  # "registered_model" or "experiment"
    name: str  # a model name, an experiment NAME (resolved to its id when applied), or "*"
    permission: str  # READ, EDIT or MANAGE


@dataclass(frozen=True)
class AccessPlan:
    instance: str  # "shared", the tenant whose dedicated registry this is, or "standalone"
    users: tuple[str, ...]  # without the admin, which MLflow creates from its own configuration
    models: tuple[tuple[str, str], ...]  # (registered model, owning tenant)
    experiments: tuple[str, ...]
    grants: tuple[Grant, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AccessPlan:
        data = json.loads(text)
        return cls(
            instance=data["instance"],
            users=tuple(data["users"]),
            models=tuple((name, owner) for name, owner in data["models"]),
            experiments=tuple(data["experiments"]),
            grants=tuple(Grant(**grant) for grant in data["grants"]),
        )

    def digest(self) -> str:
        """Changes whenever the plan does: the cluster's bootstrap Job is named after it, so a new plan
        is a new Job."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:10]


def registry_instances(blueprint: Blueprint) -> list[str]:
    """The blueprint's registries: "shared" when a tenant uses it, and each dedicated tenant's."""
    shared = ["shared"] if any(t.registry == "shared" for t in blueprint.tenants) else []
    return shared + [t.name for t in blueprint.tenants if t.registry == "dedicated"]


def access_plan(blueprint: Blueprint, instance: str | None = "shared") -> AccessPlan:
    """The plan for one registry: "shared", a dedicated tenant's name, or None for standalone's single
    registry, which serves every tenant (standalone runs one MLflow even for dedicated tenants)."""
    from services.training.runner import experiment_name

    tenants = [
        t
        for t in blueprint.tenants
        if instance is None
        or (t.registry == "shared" and instance == "shared")
        or (t.registry == "dedicated" and t.name == instance)
    ]
    if not tenants and instance not in (None, "shared"):
        raise ValueError(f"no tenant {instance!r} with a dedicated registry in blueprint {blueprint.metadata.name!r}")
    owners: dict[str, str] = {}
    for tenant in tenants:
        for model in _registered(tenant):
            if model.name in owners:
                raise ValueError(
                    f"tenants {owners[model.name]!r} and {tenant.name!r} both declare model {model.name!r}, and "
                    "one registry serves them (standalone runs a single registry): rename one of the models"
                )
            owners[model.name] = tenant.name
    users = [GATE, MONITORING]
    models: list[tuple[str, str]] = []
    experiments: list[str] = []
    grants = [Grant(GATE, MODEL, "*", "MANAGE"), Grant(GATE, EXPERIMENT, "*", "READ")]
    for tenant in tenants:
        team, serving = tenant_user(tenant.name), serving_user(tenant.name)
        users += [team, serving]
        for model in _registered(tenant):
            experiment = experiment_name(tenant.name, model.name)
            models.append((model.name, tenant.name))
            experiments.append(experiment)
            grants += [
                Grant(team, MODEL, model.name, "EDIT"),
                Grant(team, EXPERIMENT, experiment, "EDIT"),
                Grant(serving, MODEL, model.name, "READ"),
                Grant(serving, EXPERIMENT, experiment, "READ"),
            ]
            if getattr(model, "training", None) is not None:  # the trigger creates the training runs in it
                grants.append(Grant(GATE, EXPERIMENT, experiment, "EDIT"))
    return AccessPlan(instance or "standalone", tuple(users), tuple(models), tuple(experiments), tuple(grants))


# --- the shell: make a running registry match a plan ----------------------------------------------


def apply(
    plan: AccessPlan,
    tracking_uri: str,
    admin: Credentials,
    passwords: Mapping[str, str],
    *,
    say: Callable[[str], None] = lambda line: None,
    wait_seconds: float = 300.0,
) -> dict[str, int]:
    """Create or update users, the declared models and experiments, and every grant. Safe to repeat:
    an existing user gets the given password (so rotating a Secret rotates the login), an existing
    grant gets the planned level. Returns counts of what it did."""
    from mlflow.server.auth.client import AuthServiceClient
    from mlflow.tracking import MlflowClient

    missing = [user for user in plan.users if not passwords.get(user)]
    if missing:
        raise AccessError(f"no password for {', '.join(missing)}: set {', '.join(map(password_env, missing))}")
    _wait_healthy(tracking_uri, wait_seconds)
    counts = {"users_created": 0, "users_updated": 0, "models_created": 0, "experiments_created": 0, "grants": 0}
    with acting_as(admin):
        auth, client = AuthServiceClient(tracking_uri), MlflowClient(tracking_uri)
        for user in plan.users:
            if _exists(lambda user=user: auth.get_user(user)):
                auth.update_user_password(user, passwords[user])
                counts["users_updated"] += 1
            else:
                auth.create_user(user, passwords[user])
                counts["users_created"] += 1
        experiment_ids: dict[str, str] = {}
        for name in plan.experiments:
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                experiment_ids[name] = client.create_experiment(name)
                counts["experiments_created"] += 1
            else:
                experiment_ids[name] = experiment.experiment_id
        for name, owner in plan.models:
            if not _exists(lambda name=name: client.get_registered_model(name)):
                client.create_registered_model(name, tags={OWNER_TAG: owner})
                counts["models_created"] += 1
        for grant in plan.grants:
            resource = experiment_ids.get(grant.name, grant.name) if grant.resource == EXPERIMENT else grant.name
            _grant(auth, grant.user, grant.resource, resource, grant.permission)
            counts["grants"] += 1
    say(
        f"registry {plan.instance}: {counts['users_created']} users created, {counts['users_updated']} updated; "
        f"{counts['models_created']} models and {counts['experiments_created']} experiments created; "
        f"{counts['grants']} grants applied"
    )
    return counts


def _grant(auth, user: str, resource: str, name: str, permission: str) -> None:
    try:
        auth.grant_user_permission(user, resource, name, permission)
    except Exception as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise AccessError(f"granting {permission} on {resource} {name!r} to {user}: {exc}") from exc
        # the grant exists, maybe at another level: replace it with the planned one
        auth.revoke_user_permission(user, resource, name)
        auth.grant_user_permission(user, resource, name, permission)


def _exists(fetch: Callable[[], object]) -> bool:
    try:
        fetch()
    except Exception as exc:
        if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True


def _wait_healthy(tracking_uri: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AccessError(f"the registry at {tracking_uri} was not healthy within {seconds:.0f}s")
        time.sleep(1)


def _registered(tenant) -> list:
    """What a tenant registers: its models and its LLMs (an LLM is a registered model like any other,
    docs/llm.md; its replicas download it signed in as the tenant's serving user)."""
    return [*tenant.models, *(tenant.llm.models if tenant.llm else ())]
