# kube-state-metrics 2.15.0, laid out as upstream's Dockerfile lays out its image (distroless/static).
ARG STATIC_IMAGE=mlops-platform/static:bookworm
FROM ${STATIC_IMAGE}
COPY kube-state-metrics /
USER nobody
ENTRYPOINT ["/kube-state-metrics", "--port=8080", "--telemetry-port=8081"]
EXPOSE 8080 8081
