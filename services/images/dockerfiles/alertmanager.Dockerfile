# Alertmanager 0.28.1, laid out as upstream's Dockerfile lays out quay.io/prometheus/alertmanager.
ARG BUSYBOX_IMAGE=mlops-platform/busybox:bookworm
FROM ${BUSYBOX_IMAGE}
COPY amtool alertmanager /bin/
COPY alertmanager.yml /etc/alertmanager/alertmanager.yml
RUN mkdir -p /alertmanager && chown -R nobody:nobody /etc/alertmanager /alertmanager
USER nobody
EXPOSE 9093
VOLUME ["/alertmanager"]
WORKDIR /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
