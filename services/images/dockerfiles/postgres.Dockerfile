# PostgreSQL 15 from Debian's packages, with the interface of docker.io/library/postgres:15-alpine:
# user postgres with UID/GID 70, PGDATA=/var/lib/postgresql/data, the socket in /var/run/postgresql,
# LANG=en_US.utf8, the server binaries on PATH, and an entrypoint that initialises the database from
# POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB and runs /docker-entrypoint-initdb.d (postgres/
# docker-entrypoint.sh, written here from the image's documented behaviour).
#
# Two stages: the first installs packages (with the build's extra CA, if any); the runtime stage is a
# copy of its file system, so neither the CA nor the build argument reaches the image or its history.
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${DEBIAN_IMAGE} AS rootfs
ARG EXTRA_CA_CERTS=""
ARG PG_MAJOR=15
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The user first, with the alpine image's ids, so every file the packages create is owned by 70:70.
RUN groupadd --system --gid 70 postgres \
 && useradd --system --uid 70 --gid 70 --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && mkdir -p /var/lib/postgresql /etc/postgresql-common \
 && chown postgres:postgres /var/lib/postgresql \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
# listen_addresses='*' by default, as in the official image (the Service is the network boundary).
RUN ca=/etc/ssl/certs/ca-certificates.crt; \
    if [ -n "$EXTRA_CA_CERTS" ]; then cat "$ca" - <<< "$EXTRA_CA_CERTS" > /tmp/build-ca.pem; ca=/tmp/build-ca.pem; fi; \
    apt-get -o Acquire::https::CAInfo="$ca" update \
 && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::https::CAInfo="$ca" install -y --no-install-recommends \
      "postgresql-$PG_MAJOR" locales xz-utils zstd \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/build-ca.pem \
 && localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8 \
 && sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "/usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample" \
 && mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql /var/lib/postgresql/data \
 && chown postgres:postgres /var/run/postgresql /var/lib/postgresql/data \
 && chmod 3777 /var/run/postgresql && chmod 1777 /var/lib/postgresql/data

FROM scratch
COPY --from=rootfs / /
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PG_MAJOR=15 \
    PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=en_US.utf8
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
