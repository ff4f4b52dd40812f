# Plays the part of quay.io/prometheus/busybox, the base of the Prometheus projects' images: the static
# base plus one statically linked busybox (Debian's busybox-static), so `kubectl exec ... sh` works.
ARG DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
ARG STATIC_IMAGE=mlops-platform/static:bookworm
FROM ${DEBIAN_IMAGE} AS debian

FROM ${STATIC_IMAGE}
COPY --from=debian /usr/bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
