#!/bin/sh
# Registry restore: replace the MLflow database with a backup written by backup.sh.
# This exact script runs in the cluster (the restore Job that `mlplat registry restore` creates
# from the `mlflow-db-restore` template) and in the DR drill. docs/registry-dr.md is the guide.
#
# Environment: PGHOST, PGPORT, PGUSER, PGPASSWORD (libpq; the user must be allowed to create
#   databases), PGDATABASE (the database to replace), BACKUP_DIR (where backups live),
#   BACKUP_FILE ("latest", a backup's name in BACKUP_DIR, or a path; "list" only lists them),
#   RESTORE_FORCE (1 replaces a database that already has tables), RESTORE_WAIT_SECONDS (how long
#   to wait for the server to accept connections, default 60).
# Exit codes: 0 restored; 2 the backup is missing, incomplete, corrupt or not a dump; 3 the
#   database is not empty and RESTORE_FORCE is not 1; 1 the restore itself failed.
# In every failing case the current database is left exactly as it was:
#   1. the backup is checked first: its SHA-256 against the checksum file written with it (this
#      catches truncation and bit rot), then `pg_restore --list` (this catches files that are no
#      pg_dump archive at all);
#   2. it is restored into a new database, <db>_restoring, in one transaction;
#   3. only then are the databases swapped by renaming, in one transaction. The replaced
#      database is kept as <db>_pre_restore_<time> (with connections disabled) when it held
#      tables, so a wrong restore can itself be undone.
set -eu

fail() {
  code=$1
  shift
  echo "restore: $*" >&2
  exit "$code"
}

target_db=${PGDATABASE:?set PGDATABASE to the database to restore}
backup_dir=${BACKUP_DIR:-.}
choice=${BACKUP_FILE:-latest}
force=${RESTORE_FORCE:-0}
work_db="${target_db}_restoring"

backups() { ls -1 "$backup_dir" 2>/dev/null | grep -E '^mlflow-[0-9]{8}T[0-9]{6}Z\.dump$' | sort -r || true; }
newest() { backups | head -n 5 | tr '\n' ' '; }
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 --dbname=postgres "$@"; }

# -- 0. which backup ---------------------------------------------------------------------------
case $choice in
  list)
    echo "backups in $backup_dir (newest first):"
    for name in $(backups); do
      state=complete
      [ -f "$backup_dir/$name.sha256" ] || state="incomplete (no checksum file)"
      echo "  $name  $(wc -c < "$backup_dir/$name" | tr -d ' ') bytes  $state"
    done
    exit 0
    ;;
  latest)
    name=$(for candidate in $(backups); do [ -f "$backup_dir/$candidate.sha256" ] && echo "$candidate"; done | head -n 1)
    [ -n "$name" ] || fail 2 "no backups (mlflow-<time>.dump) in $backup_dir: take one first (the backup CronJob, or backup.sh)"
    file="$backup_dir/$name"
    ;;
  */*) file=$choice ;;
  *) file="$backup_dir/$choice" ;;
esac
[ -f "$file" ] || fail 2 "no backup $file. Newest backups in $backup_dir: $(newest)(give one of these names, or \"latest\")"

# -- 1. verify before touching anything --------------------------------------------------------
[ -f "$file.sha256" ] || fail 2 "$file has no checksum file $file.sha256: backup.sh writes it last, so this backup is incomplete (or was copied without it); pick another backup. The database was not touched."
expected=$(cut -d ' ' -f 1 < "$file.sha256")
actual=$(sha256sum < "$file" | cut -d ' ' -f 1)
[ "$expected" = "$actual" ] || fail 2 "$file is corrupt or truncated: its SHA-256 ($actual) differs from the one recorded when it was written ($expected). The database was not touched; pick another backup: $(newest)"
listing=$(pg_restore --list "$file" 2>&1) || fail 2 "$file is not a pg_dump custom-format archive ($(echo "$listing" | tail -n 1)). The database was not touched."
echo "verified $file: checksum matches, $(echo "$listing" | grep -c '^[0-9]') archive entries"

# -- 2. is there something to replace? ---------------------------------------------------------
# After losing its volume the database pod may still be starting: give it a minute.
waited=0
until pg_isready -q; do
  [ "$waited" -lt "${RESTORE_WAIT_SECONDS:-60}" ] || fail 1 "PostgreSQL at ${PGHOST:-localhost}:${PGPORT:-5432} does not accept connections (waited ${waited}s): is the database running? The database was not touched."
  sleep 2
  waited=$((waited + 2))
done
exists=$(psql_admin -At -v db="$target_db" 2>&1 <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
) || fail 1 "cannot query PostgreSQL at ${PGHOST:-localhost}:${PGPORT:-5432} as ${PGUSER:-?} ($exists). The database was not touched."
tables=0
if [ "$exists" = 1 ]; then
  tables=$(psql -X -At --dbname="$target_db" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
  if [ "$tables" -gt 0 ] && [ "$force" != 1 ]; then
    models=$(psql -X -At --dbname="$target_db" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'registered_models'")
    [ "$models" = 0 ] || models=$(psql -X -At --dbname="$target_db" -c "SELECT count(*) FROM registered_models")
    fail 3 "database $target_db on ${PGHOST:-localhost}:${PGPORT:-5432} is not empty ($tables tables, $models registered models). Restoring replaces it: re-run with --force (RESTORE_FORCE=1) to do so; the current database is then kept as ${target_db}_pre_restore_<time> until you drop it."
  fi
fi

# -- 3. restore into a fresh database ----------------------------------------------------------
dropdb --maintenance-db=postgres --if-exists "$work_db"
createdb --maintenance-db=postgres "$work_db"
started=$(date +%s)
if ! errors=$(pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$work_db" "$file" 2>&1); then
  dropdb --maintenance-db=postgres --if-exists "$work_db" || true
  fail 1 "pg_restore of $file failed: $(echo "$errors" | tail -n 3 | tr '\n' ' ')The database $target_db was not touched."
fi
restored_models=$(psql -X -At --dbname="$work_db" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'registered_models'")
[ "$restored_models" = 0 ] || restored_models=$(psql -X -At --dbname="$work_db" -c "SELECT count(*) FROM registered_models")
echo "restored $file into $work_db in $(($(date +%s) - started))s ($restored_models registered models)"

# -- 4. swap ------------------------------------------------------------------------------------
# Refuse new connections to the old database, end the open ones (MLflow reconnects: its pool
# checks connections before use), then rename both in one transaction. A client that slips in
# between makes the rename fail; it is retried.
has_old=false
[ "$exists" != 1 ] || has_old=true
attempt=1
# The kept name carries the time of the attempt, so a retry a second later never collides with it.
until keep_db="${target_db}_pre_restore_$(date -u +%Y%m%d%H%M%S)" && psql_admin -v target="$target_db" -v work="$work_db" -v keep="$keep_db" -v has_old="$has_old" >/dev/null <<'SQL'
\if :has_old
ALTER DATABASE :"target" WITH ALLOW_CONNECTIONS false;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'target' AND pid <> pg_backend_pid();
SELECT pg_sleep(0.2);
BEGIN;
ALTER DATABASE :"target" RENAME TO :"keep";
\else
BEGIN;
\endif
ALTER DATABASE :"work" RENAME TO :"target";
COMMIT;
SQL
do
  if [ "$attempt" -ge 10 ]; then
    psql_admin -v target="$target_db" >/dev/null 2>&1 <<'SQL' || true
ALTER DATABASE :"target" WITH ALLOW_CONNECTIONS true;
SQL
    fail 1 "could not swap $work_db in for $target_db after $attempt attempts (clients keep connecting). The database $target_db is unchanged; $work_db holds the restored data."
  fi
  attempt=$((attempt + 1))
  sleep 1
done

if [ "$tables" -gt 0 ]; then
  echo "the replaced database is kept as $keep_db (connections disabled); drop it when the restore is confirmed: DROP DATABASE \"$keep_db\";"
elif [ "$exists" = 1 ]; then
  psql_admin -v keep="$keep_db" <<'SQL'
DROP DATABASE :"keep";
SQL
fi
echo "restore complete: $target_db now holds $file"
