# nginx from Debian's packages, with the interface of docker.io/nginxinc/nginx-unprivileged:*-alpine:
# user nginx with UID/GID 101, listening on 8080, pid and temporary files under /tmp (so it runs on a
# read-only root file system with /tmp mounted), the configuration in /etc/nginx (nginx.conf including
# conf.d/*.conf), the page in /usr/share/nginx/html, logs to stdout/stderr, and an entrypoint that runs
# /docker-entrypoint.d/ before `nginx` (nginx-entrypoint.sh). Same two-stage shape as postgres.Dockerfile.
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${DEBIAN_IMAGE} AS rootfs
ARG EXTRA_CA_CERTS=""
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN groupadd --system --gid 101 nginx \
 && useradd --system --uid 101 --gid 101 --home-dir /nonexistent --shell /sbin/nologin nginx
RUN ca=/etc/ssl/certs/ca-certificates.crt; \
    if [ -n "$EXTRA_CA_CERTS" ]; then cat "$ca" - <<< "$EXTRA_CA_CERTS" > /tmp/build-ca.pem; ca=/tmp/build-ca.pem; fi; \
    apt-get -o Acquire::https::CAInfo="$ca" update \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::https::CAInfo="$ca" install -y --no-install-recommends \
      nginx gettext-base \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/build-ca.pem \
 && rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/nginx/conf.d/* /var/www/html \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \
 && mkdir -p /docker-entrypoint.d /usr/share/nginx/html \
 && chown -R nginx:nginx /var/lib/nginx /etc/nginx/conf.d

FROM scratch
COPY --from=rootfs / /
COPY nginx.conf /etc/nginx/nginx.conf
COPY nginx-default.conf /etc/nginx/conf.d/default.conf
COPY nginx-index.html /usr/share/nginx/html/index.html
COPY nginx-entrypoint.sh /docker-entrypoint.sh
COPY nginx-envsubst-on-templates.sh /docker-entrypoint.d/20-envsubst-on-templates.sh
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EXPOSE 8080
STOPSIGNAL SIGQUIT
USER 101
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["nginx", "-g", "daemon off;"]
