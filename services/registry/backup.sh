#!/bin/sh
# Registry backup: one consistent pg_dump of the MLflow database, verified, checksummed, then retention.
# This exact script runs in the cluster (the ModelRegistry backup CronJob mounts it from a
# ConfigMap) and in the DR drill (`mlplat registry drill`), so what the drill proves is what
# production runs. Its partner is restore.sh; docs/registry-dr.md walks through both.
#
# Environment: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (libpq), BACKUP_DIR, BACKUP_RETAIN.
# Output: the line `backup written: <file> (<bytes> bytes, sha256 <hex>)` names the new backup.
#
# A backup is two files: mlflow-<UTC time>.dump (pg_dump custom format) and, written last,
# mlflow-<UTC time>.dump.sha256. A dump without its checksum file is incomplete and restore.sh
# refuses it. Both are written under a temporary name and renamed, so a crash or a full volume
# never leaves a truncated file under a backup's name.
set -eu
: "${BACKUP_DIR:?set BACKUP_DIR to the backup volume}"
: "${BACKUP_RETAIN:=7}"
case "$BACKUP_RETAIN" in
  '' | *[!0-9]* | 0) echo "backup: BACKUP_RETAIN=$BACKUP_RETAIN: set it to the number of backups to keep (1 or more)" >&2; exit 2 ;;
esac

name="mlflow-$(date -u +%Y%m%dT%H%M%SZ).dump"
target="$BACKUP_DIR/$name"
if [ -e "$target" ]; then
  echo "backup: $target already exists (two backups in the same second): not overwriting it" >&2
  exit 1
fi
trap 'rm -f -- "$target.partial" "$target.sha256.partial"' EXIT

# Custom format (-Fc) is compressed and carries a table of contents that pg_restore can list
# without a database. --no-owner/--no-privileges: the restore recreates objects as its own user.
pg_dump --format=custom --no-owner --no-privileges --file="$target.partial"
# An archive that cannot be listed is not a backup: fail now, not on the day it is needed.
pg_restore --list "$target.partial" >/dev/null
sum=$(sha256sum < "$target.partial" | cut -d ' ' -f 1)
printf '%s  %s\n' "$sum" "$name" > "$target.sha256.partial"
mv -- "$target.partial" "$target"
mv -- "$target.sha256.partial" "$target.sha256"
echo "backup written: $target ($(wc -c < "$target" | tr -d ' ') bytes, sha256 $sum)"

# Retention: keep the newest $BACKUP_RETAIN backups. Names sort by time, so order by name
# (file times change when volumes are copied; names do not).
ls -1 "$BACKUP_DIR" | grep -E '^mlflow-[0-9]{8}T[0-9]{6}Z\.dump$' | sort -r | tail -n +"$((BACKUP_RETAIN + 1))" |
  while read -r old; do
    rm -f -- "$BACKUP_DIR/$old" "$BACKUP_DIR/$old.sha256"
    echo "pruned: $old"
  done
