#!/bin/sh
# Point-in-time restore, when WAL archiving is on (RPO under 15 minutes, ADR 0012): prepare a data
# folder from a base backup (base-backup.sh) so that PostgreSQL, when started on it, replays the
# archived WAL up to the end of the archive (or RECOVERY_TARGET_TIME) and then opens for writes.
# Runs as the database's own user with the server STOPPED: in the cluster as a Job from the
# `mlflow-db-pitr-restore` template (`mlplat registry restore --point-in-time`), and in the tests.
#
# Environment: PGDATA (the data folder to restore), BACKUP_DIR, BASE_BACKUP ("latest" or a
#   base-<time> name), WAL_DIR (the archive, default $BACKUP_DIR/wal), RECOVERY_TARGET_TIME
#   (optional, e.g. "2026-01-02 03:04:05+00"), RESTORE_FORCE (1 replaces a data folder in use).
# Exit codes as restore.sh: 2 the base backup is missing, incomplete or corrupt; 3 PGDATA holds a
#   database and RESTORE_FORCE is not 1 (or a server is running on it); 1 anything else.
# The current data folder is only renamed (to <PGDATA>.pre_restore_<time>), and only after the
# new one is fully prepared next to it, so a failure leaves it exactly as it was.
set -eu

fail() {
  code=$1
  shift
  echo "pitr-restore: $*" >&2
  exit "$code"
}

: "${PGDATA:?set PGDATA to the data folder to restore}"
backup_dir=${BACKUP_DIR:?set BACKUP_DIR to the backup volume}
wal_dir=${WAL_DIR:-$backup_dir/wal}
choice=${BASE_BACKUP:-latest}
force=${RESTORE_FORCE:-0}
target_time=${RECOVERY_TARGET_TIME:-}

complete() { ls -1 "$backup_dir" 2>/dev/null | grep -E '^base-[0-9]{8}T[0-9]{6}Z$' | sort -r | while read -r b; do
  [ -f "$backup_dir/$b/SHA256SUMS" ] && echo "$b"; done; true; }
if [ "$choice" = latest ]; then
  choice=$(complete | head -n 1)
  [ -n "$choice" ] || fail 2 "no complete base backups (base-<time>/ with SHA256SUMS) in $backup_dir: run the base-backup job first"
fi
base="$backup_dir/$choice"
[ -d "$base" ] || fail 2 "no base backup $base. Complete ones, newest first: $(complete | head -n 5 | tr '\n' ' ')"
[ -f "$base/SHA256SUMS" ] || fail 2 "$base has no SHA256SUMS: the base backup is incomplete; pick another. Nothing was changed."
(cd "$base" && sha256sum -c SHA256SUMS >/dev/null 2>&1) ||
  fail 2 "$base is corrupt or truncated: its files do not match SHA256SUMS. Nothing was changed; pick another base backup."
[ -d "$wal_dir" ] || fail 2 "no WAL archive at $wal_dir: without it only the base backup itself could be restored"

[ ! -f "$PGDATA/postmaster.pid" ] ||
  fail 3 "$PGDATA/postmaster.pid exists: a server is running on this data folder (or crashed without cleaning up); stop it first (scale the StatefulSet to 0)"
in_use=false
if [ -n "$(ls -A "$PGDATA" 2>/dev/null)" ]; then
  in_use=true
  [ "$force" = 1 ] || fail 3 "$PGDATA already holds a database: re-run with --force (RESTORE_FORCE=1) to replace it; it is then kept as $PGDATA.pre_restore_<time>"
fi

work="$PGDATA.restoring"
rm -rf -- "$work"
mkdir -p "$work/pg_wal"
chmod 700 "$work"
tar -xzf "$base/base.tar.gz" -C "$work"
tar -xzf "$base/pg_wal.tar.gz" -C "$work/pg_wal"
{
  echo "# added by pitr-restore.sh from $choice"
  echo "restore_command = 'gzip -dc \"$wal_dir/%f.gz\" > \"%p\"'"
  echo "recovery_target_action = 'promote'"
  [ -z "$target_time" ] || echo "recovery_target_time = '$target_time'"
} >> "$work/postgresql.auto.conf"
touch "$work/recovery.signal"

if [ "$in_use" = true ]; then
  kept="$PGDATA.pre_restore_$(date -u +%Y%m%d%H%M%S)"
  mv -- "$PGDATA" "$kept"
  echo "the replaced data folder is kept as $kept; delete it when the restore is confirmed"
else
  rm -rf -- "$PGDATA"
fi
mv -- "$work" "$PGDATA"
echo "prepared $PGDATA from $choice: start PostgreSQL and it replays the WAL in $wal_dir${target_time:+ up to $target_time}, then opens for writes"
