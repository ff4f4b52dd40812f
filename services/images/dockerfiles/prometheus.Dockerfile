# Prometheus 3.5.0, laid out as upstream's Dockerfile lays out quay.io/prometheus/prometheus: the same
# binaries, paths, user, volume and entrypoint. The binaries are built here from the Go module
# (services/images/programs.py) with the web UI embedded.
ARG BUSYBOX_IMAGE=mlops-platform/busybox:bookworm
FROM ${BUSYBOX_IMAGE}
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
COPY LICENSE NOTICE /
WORKDIR /prometheus
RUN chown -R nobody:nobody /etc/prometheus /prometheus && chmod g+w /prometheus
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
