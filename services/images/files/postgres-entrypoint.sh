#!/usr/bin/env bash
# The entrypoint of the platform's PostgreSQL image, with the documented interface of the official
# image's docker-entrypoint.sh (https://hub.docker.com/_/postgres, "Environment Variables" and
# "Initialization scripts"):
#   - `docker-entrypoint.sh postgres [args]`, or just `[-c ...]` args: on an empty PGDATA, initialise a
#     database cluster first, then exec the server;
#   - POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (postgres),
#     POSTGRES_DB (= the user), POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD
#     (scram-sha-256); each also as <NAME>_FILE, read from a file (a mounted secret);
#   - /docker-entrypoint-initdb.d/*: *.sh run (or sourced when not executable), *.sql, *.sql.gz,
#     *.sql.xz and *.sql.zst fed to psql, in name order, against a server listening on its socket only;
#   - started as root, it prepares the folders and re-runs itself as postgres (70); started as
#     postgres, as in the platform's pods, it needs nothing but writable PGDATA and /var/run/postgresql.
# Any other command (`docker-entrypoint.sh bash`, `pg_dump ...`) is executed as it is.
set -Eeo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

# VAR or VAR_FILE (not both) into VAR; a default when neither is set.
file_env() {
	local var=$1 file_var="${1}_FILE" default=${2:-}
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		fail "both $var and $file_var are set: set one of them"
	fi
	local value=$default
	if [ -n "${!var:-}" ]; then
		value=${!var}
	elif [ -n "${!file_var:-}" ]; then
		value=$(< "${!file_var}")
	fi
	export "$var"="$value"
	unset "$file_var"
}

prepare_folders() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" 2>/dev/null || true
	mkdir -p /var/run/postgresql
	chmod 03775 /var/run/postgresql 2>/dev/null || true
	if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
		mkdir -p "$POSTGRES_INITDB_WALDIR"
		chmod 700 "$POSTGRES_INITDB_WALDIR" 2>/dev/null || true
	fi
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres:postgres "$PGDATA" /var/run/postgresql ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"}
	fi
}

read_settings() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		fail "the database is not initialised and POSTGRES_PASSWORD is not set: set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to the superuser's password, or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without one (never in production)"
	fi
}

init_cluster() {
	log "initialising a database cluster in $PGDATA as $POSTGRES_USER"
	local args=(--username="$POSTGRES_USER")
	[ -z "${POSTGRES_INITDB_WALDIR:-}" ] || args+=(--waldir="$POSTGRES_INITDB_WALDIR")
	# The password reaches initdb through a pipe, never a file on disk; the pipe must be opened on
	# initdb's own command line (it closes when the command that created it ends).
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options, split on purpose
	initdb "${args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
	local method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	printf '\nhost all all all %s\n' "$method" >> "$PGDATA/pg_hba.conf"
}

run_sql() { psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$1"; }

run_init_scripts() {
	local file
	for file in /docker-entrypoint-initdb.d/*; do
		[ -e "$file" ] || continue
		case "$file" in
			*.sh)
				if [ -x "$file" ]; then log "running $file"; "$file"
				else log "sourcing $file"; . "$file"; fi ;;
			*.sql) log "running $file"; run_sql "$POSTGRES_DB" < "$file" ;;
			*.sql.gz) log "running $file"; gunzip -c "$file" | run_sql "$POSTGRES_DB" ;;
			*.sql.xz) log "running $file"; xzcat "$file" | run_sql "$POSTGRES_DB" ;;
			*.sql.zst) log "running $file"; zstd -dc "$file" | run_sql "$POSTGRES_DB" ;;
			*) log "ignoring $file" ;;
		esac
	done
}

first_start() {
	read_settings
	init_cluster
	# A server for the set-up only: no TCP, so no client can connect before initialisation is done.
	PGUSER=$POSTGRES_USER PGPASSWORD=$POSTGRES_PASSWORD \
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
	export PGPASSWORD=$POSTGRES_PASSWORD
	if [ "$POSTGRES_DB" != postgres ]; then
		log "creating database $POSTGRES_DB"
		run_sql postgres <<< "CREATE DATABASE \"${POSTGRES_DB//\"/\"\"}\";"
	fi
	run_init_scripts
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	log "initialisation complete: starting the server"
}

main() {
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"  # only options: they are the server's
	fi
	if [ "$1" = postgres ]; then
		prepare_folders
		if [ "$(id -u)" = 0 ]; then
			exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
		fi
		if [ ! -s "$PGDATA/PG_VERSION" ]; then
			first_start
		fi
	fi
	exec "$@"
}

main "$@"
