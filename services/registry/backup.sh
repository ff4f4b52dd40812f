#!/bin/sh
# Registry backup: one consistent pg_dump of the MLflow database, then retention.
# This exact script runs in the cluster (the ModelRegistry backup CronJob mounts it from a
# ConfigMap) and in the DR drill, so what the drill proves is what production runs.
#
# Environment: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (libpq), BACKUP_DIR, BACKUP_RETAIN.
set -eu
: "${BACKUP_DIR:?set BACKUP_DIR to the backup volume}"
: "${BACKUP_RETAIN:=7}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$BACKUP_DIR/mlflow-$stamp.dump"
# Custom format (-Fc) is compressed and lets pg_restore check the archive before touching a database.
# Written under a temporary name and renamed, so a crash never leaves a truncated "latest" backup.
pg_dump --format=custom --no-owner --no-privileges --file="$target.partial"
mv "$target.partial" "$target"
echo "backup written: $target ($(wc -c < "$target") bytes)"
# Keep the newest $BACKUP_RETAIN backups.
ls -1t "$BACKUP_DIR"/mlflow-*.dump | tail -n +"$((BACKUP_RETAIN + 1))" | while read -r old; do
  rm -f -- "$old" && echo "pruned: $old"
done
