#!/bin/sh
# The entrypoint of the platform's nginx image, with the documented behaviour of the official one
# (https://hub.docker.com/_/nginx, "Running nginx in read-only mode", "Using environment variables"):
# when the command is `nginx` or `nginx-debug`, run /docker-entrypoint.d/*.sh in name order (and source
# *.envsh), then exec the command. NGINX_ENTRYPOINT_QUIET_LOGS=1 silences its messages.
set -e

say() {
    [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: $*"
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    if find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null | read -r _; then
        say "/docker-entrypoint.d/ is not empty, will attempt to perform configuration"
        for script in $(find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f | sort); do
            case "$script" in
                *.envsh)
                    if [ -x "$script" ]; then say "sourcing $script"; . "$script"; else say "ignoring $script, not executable"; fi ;;
                *.sh)
                    if [ -x "$script" ]; then say "launching $script"; "$script"; else say "ignoring $script, not executable"; fi ;;
                *) say "ignoring $script" ;;
            esac
        done
        say "configuration complete; ready for start up"
    else
        say "no files found in /docker-entrypoint.d/, skipping configuration"
    fi
fi

exec "$@"
