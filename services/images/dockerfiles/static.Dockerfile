# Plays the part of gcr.io/distroless/static-debian12 for the static Go programs (kube-state-metrics,
# metrics-server) and, with a shell added, of quay.io/prometheus/busybox (busybox.Dockerfile).
# What distroless/static holds, taken from a Debian base: CA certificates, time zones, /tmp, and the
# users root, nobody (65534) and nonroot (65532). No shell, no package manager, no libc.
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${DEBIAN_IMAGE} AS debian

FROM scratch
COPY --from=debian /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=debian /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=debian /tmp /tmp
COPY passwd group /etc/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
