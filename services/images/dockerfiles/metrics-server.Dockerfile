# metrics-server 0.8.0, laid out as upstream's Dockerfile lays out its image (distroless/static).
ARG STATIC_IMAGE=mlops-platform/static:bookworm
FROM ${STATIC_IMAGE}
COPY metrics-server /
USER 65534
ENTRYPOINT ["/metrics-server"]
