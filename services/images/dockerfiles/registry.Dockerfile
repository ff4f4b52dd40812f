# The distribution registry 3.0.0, as the Docker Official Image `registry:3.0.0` runs it: the binary on
# PATH, its configuration at /etc/distribution/config.yml, images under the /var/lib/registry volume,
# port 5000. Upstream's base is Alpine with ca-certificates; the busybox base here holds the same.
ARG BUSYBOX_IMAGE=mlops-platform/busybox:bookworm
FROM ${BUSYBOX_IMAGE}
COPY registry /bin/registry
COPY registry-config.yml /etc/distribution/config.yml
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["registry"]
CMD ["serve", "/etc/distribution/config.yml"]
