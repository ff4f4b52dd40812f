#!/bin/sh
# Base backup for point-in-time recovery, when WAL archiving is on (RPO under 15 minutes, ADR 0012).
# A base backup is the starting point the archived WAL is replayed onto; pitr-restore.sh is its
# partner. Runs in the cluster (the base-backup CronJob) and in the tests, like backup.sh.
#
# Environment: PGHOST, PGPORT, PGUSER, PGPASSWORD (libpq; a user allowed to replicate), BACKUP_DIR,
#   BASE_BACKUP_RETAIN (base backups kept, default 2), WAL_DIR (the WAL archive, default $BACKUP_DIR/wal).
# Output: the line `base backup written: <folder>` names the new backup.
#
# A base backup is a folder base-<UTC time>/ holding pg_basebackup's tar files (the data files and
# the WAL needed to make them consistent) and SHA256SUMS, written last. It is written under a
# temporary name and renamed. After it, older base backups beyond the retention are deleted, and so
# is the archived WAL older than the oldest base backup kept: nothing could replay it any more.
set -eu
: "${BACKUP_DIR:?set BACKUP_DIR to the backup volume}"
: "${BASE_BACKUP_RETAIN:=2}"
wal_dir=${WAL_DIR:-$BACKUP_DIR/wal}
case "$BASE_BACKUP_RETAIN" in
  '' | *[!0-9]* | 0) echo "base-backup: BASE_BACKUP_RETAIN=$BASE_BACKUP_RETAIN: keep 1 or more" >&2; exit 2 ;;
esac

name="base-$(date -u +%Y%m%dT%H%M%SZ)"
target="$BACKUP_DIR/$name"
[ ! -e "$target" ] || { echo "base-backup: $target already exists" >&2; exit 1; }
trap 'rm -rf -- "$target.partial"' EXIT
# --wal-method=stream: the WAL written during the copy travels with it, so the backup is consistent
# on its own; --checkpoint=fast starts it now instead of at the next scheduled checkpoint.
pg_basebackup --pgdata="$target.partial" --format=tar --gzip --wal-method=stream --checkpoint=fast \
  --label="$name" --no-password
(cd "$target.partial" && sha256sum base.tar.gz pg_wal.tar.gz backup_manifest > SHA256SUMS.partial &&
  mv SHA256SUMS.partial SHA256SUMS)
mv -- "$target.partial" "$target"
echo "base backup written: $target ($(du -sk "$target" | cut -f 1) KiB)"

complete() { ls -1 "$BACKUP_DIR" | grep -E '^base-[0-9]{8}T[0-9]{6}Z$' | while read -r b; do
  [ -f "$BACKUP_DIR/$b/SHA256SUMS" ] && echo "$b"; done; }
complete | sort -r | tail -n +"$((BASE_BACKUP_RETAIN + 1))" | while read -r old; do
  rm -rf -- "${BACKUP_DIR:?}/$old"
  echo "pruned: $old"
done

# The oldest base backup kept starts at a WAL segment; archived WAL before it can go. Its name is
# <timeline><LSN high><LSN low / 16 MiB>, each as 8 hex digits (the default 16 MiB segments).
oldest=$(complete | sort | head -n 1)
start=$(tr -d ' \n' < "$BACKUP_DIR/$oldest/backup_manifest" | sed -n 's/.*"WAL-Ranges":\[{"Timeline":\([0-9]*\),"Start-LSN":"\([0-9A-F]*\)\/\([0-9A-F]*\)".*/\1 \2 \3/p')
if [ -n "$start" ] && [ -d "$wal_dir" ]; then
  set -- $start
  segment=$(printf '%08X%08X%08X' "$1" "0x$2" "$(( 0x$3 >> 24 ))")
  pg_archivecleanup -x .gz "$wal_dir" "$segment"
  echo "archived WAL before $segment removed (the oldest base backup kept, $oldest, starts there)"
fi
