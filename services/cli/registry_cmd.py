"""`mlplat registry server|bootstrap|restore|drill`: the registry's server, its users, its recovery.

`server` runs MLflow with its authentication app (services/registry/server.py); `bootstrap` makes a
running registry's users and permissions match the blueprint (services/registry/access.py, ADR 0017).

`restore` runs services/registry/restore.sh: in the cluster as a Job made from the
`mlflow-db-restore` template the ModelRegistry component deploys (the default), or locally against
any PostgreSQL given by `--database-url`. With `--point-in-time` (registries with WAL archiving) it
runs services/registry/pitr-restore.sh from the `mlflow-db-pitr-restore` template instead. `drill`
runs the whole DR drill on this machine (services/registry/drill.py). The step-by-step guide is
docs/registry-dr.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from blueprints.naming import SYSTEM_NAMESPACE
from services.cli import CliError


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "registry", help="the registry: its server, users and permissions, disaster recovery (restore, drill)"
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    server = actions.add_parser(
        "server",
        help="MLflow with its authentication app: `mlplat registry server [options] -- <mlflow server args>`",
    )
    server.add_argument(
        "--auth-database-uri", help="where users and permissions live [MLPLAT_AUTH_DATABASE_URI; the backend store]"
    )
    server.add_argument(
        "--admin-credentials", type=Path, help="the admin's credentials file [MLFLOW_AUTH_ADMIN_PASSWORD]"
    )
    server.add_argument(
        "--flask-key-file",
        type=Path,
        help="the CSRF signing key, generated on first use [MLFLOW_FLASK_SERVER_SECRET_KEY]",
    )
    server.add_argument("mlflow_args", nargs=argparse.REMAINDER, help="-- then the `mlflow server` arguments")
    server.set_defaults(handler=_server)

    bootstrap = actions.add_parser(
        "bootstrap", help="create the registry's users, models and experiments and grant permissions (idempotent)"
    )
    bootstrap.add_argument("--plan", type=Path, required=True, help="the access plan (JSON, from the blueprint)")
    bootstrap.add_argument("--tracking-uri", required=True, help="the registry's address")
    bootstrap.add_argument(
        "--admin-credentials", type=Path, help="the admin's credentials file [MLFLOW_TRACKING_USERNAME/PASSWORD]"
    )
    bootstrap.add_argument(
        "--credentials-dir", type=Path, help="one <user>.ini per user [passwords from MLPLAT_PASSWORD_<USER>]"
    )
    bootstrap.add_argument(
        "--gate-webhook", metavar="URL", help="also register the promotion gate's webhook receiver at URL (admin only)"
    )
    bootstrap.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the registry [300]")
    bootstrap.set_defaults(handler=_bootstrap)

    restore = actions.add_parser(
        "restore",
        help="replace the registry database with a backup (verified first; the current one is kept)",
        description="Replace the registry database with a backup written by the backup CronJob. The backup "
        "is verified (checksum, pg_restore --list) before anything is touched, restored into a fresh database "
        "and swapped in; a database that has tables is replaced only with --force and kept under another name.",
    )
    where = restore.add_mutually_exclusive_group()
    where.add_argument(
        "--from",
        dest="backup",
        metavar="BACKUP",
        help='a backup name (mlflow-<time>.dump) or "latest"; with --point-in-time a base backup (base-<time>)',
    )
    where.add_argument("--list", action="store_true", help="list the backups instead of restoring")
    restore.add_argument("--force", action="store_true", help="replace a database that is not empty")
    restore.add_argument(
        "--point-in-time",
        action="store_true",
        help="restore a base backup and replay the archived WAL (registries with rpoMinutes under 15)",
    )
    restore.add_argument(
        "--target-time",
        metavar="TIME",
        help="with --point-in-time: stop the replay here (ISO 8601, e.g. 2026-01-02T03:04:05Z)",
    )
    restore.add_argument("--context", help="kubeconfig context [the dev stack's kubeContext]")
    restore.add_argument(
        "--namespace",
        default=SYSTEM_NAMESPACE,
        help=f"the registry's namespace (a dedicated one: the tenant's) [{SYSTEM_NAMESPACE}]",
    )
    restore.add_argument(
        "--database-url",
        help="restore locally into this PostgreSQL instead of the cluster: postgresql://USER:PASSWORD@HOST:PORT/DB "
        "(with --from a file path, or a name in --backup-dir)",
    )
    restore.add_argument(
        "--backup-dir", type=Path, help="with --database-url: where the backups are [the --from file's folder]"
    )
    restore.set_defaults(handler=_restore)

    drill = actions.add_parser(
        "drill",
        help="the DR drill: real PostgreSQL + MLflow, backup, destroy, restore, verify; measures RTO and RPO",
    )
    drill.add_argument("--models", type=int, default=3, help="registered models to create (1-10) [3]")
    drill.add_argument("--versions", type=int, default=2, help="versions per model (1-10) [2]")
    drill.add_argument("--keep", type=Path, metavar="DIR", help="keep backups, logs and the audit log in DIR")
    drill.add_argument("--json", action="store_true", help="print the report as JSON (progress goes to stderr)")
    drill.set_defaults(handler=_drill)


def _server(args: argparse.Namespace) -> int:
    import os

    from services.local_secrets import read_or_create
    from services.registry.credentials import CredentialsError, read_credentials
    from services.registry.server import (
        ADMIN_PASSWORD_ENV,
        AUTH_DATABASE_ENV,
        FLASK_KEY_ENV,
        SERVER_ENV,
        auth_config,
        mlflow_command,
        write_auth_config,
    )

    mlflow_args = args.mlflow_args[1:] if args.mlflow_args[:1] == ["--"] else args.mlflow_args
    database = args.auth_database_uri or os.environ.get(AUTH_DATABASE_ENV)
    if not database:
        raise CliError(f"give --auth-database-uri (or set {AUTH_DATABASE_ENV}): where MLflow keeps users and grants")
    env = {**os.environ, **SERVER_ENV}
    if args.admin_credentials:
        try:
            env[ADMIN_PASSWORD_ENV] = read_credentials(args.admin_credentials).password
        except CredentialsError as exc:
            raise CliError(str(exc)) from None
    if not env.get(ADMIN_PASSWORD_ENV):
        raise CliError(f"give --admin-credentials FILE or set {ADMIN_PASSWORD_ENV}: MLflow creates its admin with it")
    if args.flask_key_file:
        env[FLASK_KEY_ENV] = read_or_create(args.flask_key_file)[0]
    if not env.get(FLASK_KEY_ENV):
        raise CliError(f"give --flask-key-file FILE or set {FLASK_KEY_ENV}: MLflow signs CSRF tokens with it")
    try:
        command = mlflow_command(mlflow_args)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(write_auth_config(auth_config(database)))
    os.execve(command[0], command, env)  # MLflow takes this process over: signals reach it directly
    return 0  # pragma: no cover


def _bootstrap(args: argparse.Namespace) -> int:
    import os

    from services.promotion_gate.webhooks import register_webhooks
    from services.registry.access import ADMIN, AccessError, AccessPlan, apply, password_env
    from services.registry.credentials import (
        PASSWORD_ENV,
        USERNAME_ENV,
        Credentials,
        CredentialsError,
        acting_as,
        credentials_file,
        read_credentials,
    )

    try:
        plan = AccessPlan.from_json(args.plan.read_text(encoding="utf-8"))
        if args.admin_credentials:
            admin = read_credentials(args.admin_credentials)
        elif os.environ.get(USERNAME_ENV) and os.environ.get(PASSWORD_ENV):
            admin = Credentials(os.environ[USERNAME_ENV], os.environ[PASSWORD_ENV])
        else:
            raise CliError(f"give --admin-credentials FILE, or set {USERNAME_ENV} and {PASSWORD_ENV} (the admin)")
        if admin.username != ADMIN:
            raise CliError(f"the bootstrap signs in as {ADMIN}, not {admin.username!r}: give the admin's credentials")
        if args.credentials_dir:
            passwords = {u: read_credentials(credentials_file(args.credentials_dir, u)).password for u in plan.users}
        else:
            passwords = {u: os.environ.get(password_env(u), "") for u in plan.users}
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"--plan {args.plan}: {exc}") from None
    except CredentialsError as exc:
        raise CliError(str(exc)) from None
    try:
        apply(plan, args.tracking_uri, admin, passwords, say=print, wait_seconds=args.wait)
    except AccessError as exc:
        raise CliError(str(exc), code=1) from None
    if args.gate_webhook:
        from mlflow.tracking import MlflowClient

        from services.promotion_gate.webhooks import SECRET_ENV, SECRET_FILE_ENV, secret_from_env

        secret = secret_from_env()
        if not secret:
            raise CliError(f"--gate-webhook: set {SECRET_ENV} (or {SECRET_FILE_ENV}) to sign the deliveries")
        with acting_as(admin):
            register_webhooks(MlflowClient(args.tracking_uri), args.gate_webhook, secret)
        print(f"registered the gate's webhook -> {args.gate_webhook}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    if args.target_time and not args.point_in_time:
        raise CliError("--target-time applies to --point-in-time: add it, or drop --target-time")
    if args.point_in_time:
        return _restore_point_in_time(args)
    if not (args.backup or args.list):
        raise CliError('give --from BACKUP (a backup name, or "latest"), or --list to see the backups')
    if args.database_url:
        return _restore_local(args)
    if args.backup_dir:
        raise CliError("--backup-dir applies to a local restore: give --database-url too, or drop --backup-dir")
    from services.registry.cluster import ClusterRestore, ClusterRestoreError, check_backup_name

    backup = "list" if args.list else args.backup
    try:
        check_backup_name(backup)
    except ValueError as exc:
        raise CliError(f"--from {backup}: {exc}") from None
    context = args.context or _stack_context()
    try:
        result = ClusterRestore(context=context, namespace=args.namespace).restore(backup, force=args.force)
    except ClusterRestoreError as exc:
        raise CliError(str(exc), code=exc.code) from None
    print(result)
    return 0


def _restore_point_in_time(args: argparse.Namespace) -> int:
    from services.registry.cluster import ClusterRestore, ClusterRestoreError, check_base_backup_name, recovery_target

    if args.database_url or args.backup_dir or args.list:
        raise CliError(
            "--point-in-time restores the cluster's database volume: drop --database-url, --backup-dir and --list "
            "(on your own server run services/registry/pitr-restore.sh, see docs/registry-dr.md)"
        )
    base = args.backup or "latest"
    try:
        check_base_backup_name(base)
        if args.target_time:
            recovery_target(args.target_time)
    except ValueError as exc:
        raise CliError(f"--point-in-time: {exc}") from None
    context = args.context or _stack_context()
    try:
        result = ClusterRestore(context=context, namespace=args.namespace).point_in_time(
            base, target_time=args.target_time, force=args.force
        )
    except ClusterRestoreError as exc:
        raise CliError(str(exc), code=exc.code) from None
    print(result)
    return 0


def _stack_context() -> str:
    import yaml

    path = Path(__file__).resolve().parents[2] / "Pulumi.dev.yaml"
    config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config", {}) if path.is_file() else {}
    context = config.get("mlops-platform:kubeContext")
    if not context:
        raise CliError("no kube context: pass --context (e.g. --context kind-mlops)")
    return str(context)


def _restore_local(args: argparse.Namespace) -> int:
    from services.registry.backups import Database, RestoreError, restore_backup
    from services.registry.postgres import CLIENT_TOOLS, PostgresNotInstalled, find_bin_dir

    if args.context:
        raise CliError("--context applies to the cluster: drop it, or drop --database-url to restore in the cluster")
    try:
        database = Database.from_url(args.database_url)
    except ValueError as exc:
        raise CliError(f"--database-url: {exc}") from None
    backup = "list" if args.list else args.backup
    if args.backup_dir is None and ("/" not in backup or backup in ("latest", "list")):
        raise CliError(f"--from {backup}: give the backup's path, or the folder that holds it with --backup-dir")
    try:
        tools = find_bin_dir(CLIENT_TOOLS)
    except PostgresNotInstalled as exc:
        raise CliError(str(exc)) from None
    try:
        done = restore_backup(database, backup, backup_dir=args.backup_dir, force=args.force, tools=tools)
    except RestoreError as exc:
        raise CliError(str(exc), code=exc.code) from None
    print(done.output, end="")
    return 0


def _drill(args: argparse.Namespace) -> int:
    import sys

    from services.registry.drill import Drill, DrillError
    from services.registry.postgres import PostgresNotInstalled

    say = (
        (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else (lambda line: print(line, flush=True))
    )
    try:
        drill = Drill(models=args.models, versions=args.versions, root=args.keep, say=say)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        report = drill.run()
    except (DrillError, PostgresNotInstalled) as exc:
        raise CliError(str(exc), code=1) from None
    print(report.to_json() if args.json else "\n" + report.text())
    return 0 if report.passed else 1
