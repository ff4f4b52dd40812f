# Pushgateway 1.11.3, laid out as upstream's Dockerfile lays out quay.io/prometheus/pushgateway.
ARG BUSYBOX_IMAGE=mlops-platform/busybox:bookworm
FROM ${BUSYBOX_IMAGE}
COPY --chown=nobody:nobody pushgateway /bin/pushgateway
EXPOSE 9091
WORKDIR /pushgateway
RUN chown nobody:nobody /pushgateway && chmod g+w /pushgateway
USER 65534
ENTRYPOINT ["/bin/pushgateway"]
