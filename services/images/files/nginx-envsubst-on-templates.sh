#!/bin/sh
# /etc/nginx/templates/*.template -> $NGINX_ENVSUBST_OUTPUT_DIR/*, with the environment's variables
# substituted (only those defined, so nginx's own $variables stay), as the official image documents.
# Nothing happens when the template folder does not exist (the platform's gateway mounts its own
# nginx.conf instead); the output folder must be writable, e.g. an emptyDir.
set -e

template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
filter="${NGINX_ENVSUBST_FILTER:-}"

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
    echo "$0: ERROR: $template_dir exists, but $output_dir is not writable" >&2
    exit 0
fi
# "${A} ${B} ...": the names envsubst may replace (those matching NGINX_ENVSUBST_FILTER, if set).
defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | grep -E "${filter:-.}" | sed 's/.*/${&}/' | tr '\n' ' ')
find "$template_dir" -follow -type f -name "*$suffix" -print | while read -r template; do
    relative="${template#"$template_dir/"}"
    output="$output_dir/${relative%"$suffix"}"
    mkdir -p "$(dirname "$output")"
    echo "$0: running envsubst on $template to $output"
    envsubst "$defined" < "$template" > "$output"
done
