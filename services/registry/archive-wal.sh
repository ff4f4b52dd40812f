#!/bin/sh
# PostgreSQL's archive_command when WAL archiving is on (RPO under 15 minutes, ADR 0012):
#   archive-wal.sh <path of the WAL file> <its name> <archive folder>
# PostgreSQL calls it for every finished WAL segment (and history file); archive_timeout forces a
# segment to finish at least every RPO minutes. The file is compressed (a segment is 16 MiB, mostly
# zeros when it was switched early) and renamed into place, so a crash never leaves a truncated
# file under a WAL name. Exit 0 tells PostgreSQL the file is safe and its copy in pg_wal may go.
set -eu
source=$1
name=$2
archive=$3
target="$archive/$name.gz"
mkdir -p -- "$archive"
if [ -f "$target" ]; then
  # Archived before, but PostgreSQL did not hear about it (a crash in between): fine if identical.
  if gzip -dc "$target" | cmp -s - "$source"; then
    exit 0
  fi
  echo "archive-wal: $target exists with different content: refusing to overwrite an archived WAL file" >&2
  exit 1
fi
gzip -c "$source" > "$target.partial"
mv -- "$target.partial" "$target"
