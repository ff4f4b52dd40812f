#!/usr/bin/env bash
# Install the system packages a make target needs, as declared in packaging/system-packages.txt.
#
#   bash packaging/system-packages.sh test|up
#
# Present ones are left alone (nothing runs when everything is there). On Debian or Ubuntu it installs
# the missing ones with apt-get: directly as root, through sudo otherwise (which asks for a password).
# Anywhere else it stops at once, before any test runs, with what to install. Debian starts the servers
# it installs; the tests and standalone start their own on their own ports, so those services are
# stopped and disabled again (and said so).
set -euo pipefail

group=${1:?usage: $0 test|up}
here=$(cd "$(dirname "$0")" && pwd)

present() {  # any probe present: a command on PATH or an existing path (globs expanded)
  local probe
  IFS=, read -ra probes <<<"$1"
  for probe in "${probes[@]}"; do
    if [[ $probe == py:* ]]; then
      "${PYTHON:-python3}" -c "import ${probe#py:}" >/dev/null 2>&1 && return 0
    elif [[ $probe == /* ]]; then
      compgen -G "$probe" >/dev/null && return 0
    elif command -v "$probe" >/dev/null 2>&1; then
      return 0
    fi
  done
  return 1
}

# PostgreSQL extensions no Debian bookworm package provides, built from source by their own script:
# pgvector for the LLM gateway's semantic cache (services/llm/install-pgvector.sh), for make test.
extensions() {
  [[ $group == test ]] || return 0
  local pg_config
  pg_config=$(compgen -G "/usr/lib/postgresql/*/bin/pg_config" | head -n1 || true)
  if [[ -n $pg_config && -f "$("$pg_config" --sharedir)/extension/vector.control" ]]; then
    return 0
  fi
  if [[ $(id -u) -eq 0 ]]; then
    bash "$here/../services/llm/install-pgvector.sh"
  elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "make test builds pgvector for PostgreSQL 15 with sudo (services/llm/install-pgvector.sh)" >&2
    # the cache stays the user's: made here, before root writes into it (root would make it root's, and
    # the wheels the virtualenv builds later could not be written beside it)
    local cache=${MLPLAT_CACHE:-$HOME/.cache/mlops-platform}
    mkdir -p "$cache/pgvector"
    sudo env MLPLAT_CACHE="$cache" bash "$here/../services/llm/install-pgvector.sh"
  else
    echo "make test needs pgvector for PostgreSQL 15; as root run: bash services/llm/install-pgvector.sh" >&2
    exit 1
  fi
}

missing=()
while read -r package groups probes _; do
  [[ -z ${package:-} || $package == \#* ]] && continue
  [[ ",$groups," == *",$group,"* ]] || continue
  present "$probes" || missing+=("$package")
done <"$here/system-packages.txt"
if [[ ${#missing[@]} -eq 0 ]]; then
  extensions
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 && [[ $group == up ]]; then
  # make up may take the kind path, which runs these servers in the cluster: a note, not a stop
  echo "note: standalone's monitoring needs ${missing[*]//|/ or } on PATH (install them for the whole" >&2
  echo "lifecycle; without them \`mlplat demo\` stops at its drift step); the kind path does not need them" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "make $group needs these packages (Debian/Ubuntu names): ${missing[*]//|/ or }" >&2
  echo "Install them with your system's package manager (their servers must be on PATH, PostgreSQL's initdb" >&2
  echo "included), then run make $group again. On Debian or Ubuntu this script installs them itself." >&2
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  echo "make $group installs ${missing[*]//|/ or } with sudo apt-get (it may ask for your password)" >&2
  as_root=(sudo)
else
  echo "make $group needs: ${missing[*]//|/ or }. As root run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]%%|*}" >&2
  exit 1
fi

"${as_root[@]}" apt-get update -qq
chosen=()
for package in "${missing[@]}"; do  # the first alternative that has an install candidate
  IFS='|' read -ra choices <<<"$package"
  for choice in "${choices[@]}"; do
    # read apt-cache's whole answer: `| grep -q` would stop reading at the match, and under pipefail the
    # SIGPIPE apt-cache then gets (on longer answers: several archives) reads as "no candidate"
    policy=$(apt-cache policy "$choice" 2>/dev/null)
    if [[ $policy == *"Candidate: "[0-9]* ]]; then
      chosen+=("$choice")
      continue 2
    fi
  done
  echo "none of ${package//|/, } can be installed from this machine's apt sources" >&2
  exit 1
done
echo "installing ${chosen[*]}" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${chosen[@]}" >/dev/null

# Debian starts what it installs; the platform starts its own servers on its own ports.
for service in prometheus prometheus-alertmanager prometheus-pushgateway postgresql nginx; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    "${as_root[@]}" systemctl disable --now "$service" >/dev/null 2>&1 && echo "stopped and disabled $service" >&2
  elif command -v service >/dev/null 2>&1; then
    "${as_root[@]}" service "$service" stop >/dev/null 2>&1 || true
  fi
done
extensions
