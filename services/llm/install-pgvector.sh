#!/usr/bin/env bash
# pgvector for Debian's PostgreSQL 15, for the semantic cache's tests and standalone (docs/llm.md).
#
# Debian ships pgvector as a source package (trixie's `pgvector` 0.8.0), with binaries only for
# PostgreSQL 17; bookworm has no postgresql-15-pgvector. So: fetch Debian's source package with apt
# (the ordinary client, from Debian's own archive), build it against postgresql-server-dev-15 and
# install it. Idempotent: nothing happens when the extension is installed. The downloaded source is
# kept in ~/.cache/mlops-platform/pgvector. Needs root (it writes to PostgreSQL's directories).
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
VERSION=0.8.0
if [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ]; then
  echo "pgvector: installed ($("$PG_CONFIG" --sharedir)/extension/vector.control)"
  exit 0
fi
CACHE=${MLPLAT_CACHE:-$HOME/.cache/mlops-platform}/pgvector
mkdir -p "$CACHE"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends postgresql-server-dev-15 make gcc dpkg-dev >/dev/null
if [ ! -f "$CACHE/pgvector_${VERSION}.orig.tar.gz" ]; then
  # the sources list sits beside the lists folder, not in it: `apt-get update` deletes from that folder
  # every file it did not download itself
  work=$(mktemp -d)
  chmod 755 "$work"  # apt downloads as its _apt user, which must reach the lists folder
  mkdir -p "$work/lists/partial"
  echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$CACHE" && apt-get "${apt_opts[@]}" source --download-only "pgvector=${VERSION}-1" >/dev/null)
  rm -rf "$work"
  if [ -n "${SUDO_UID:-}" ]; then  # through sudo: what lands in the user's cache stays the user's
    chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$CACHE"/*
  fi
fi
build=$(mktemp -d)
tar -xzf "$CACHE/pgvector_${VERSION}.orig.tar.gz" -C "$build"
make -C "$build/pgvector-${VERSION}" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
make -C "$build/pgvector-${VERSION}" PG_CONFIG="$PG_CONFIG" install >/dev/null
rm -rf "$build"
echo "pgvector ${VERSION}: built from Debian's source package and installed for PostgreSQL 15"
