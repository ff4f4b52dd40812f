# Open Policy Agent 1.22.4, laid out as upstream's Dockerfile lays out openpolicyagent/opa:<version>-static
# (distroless/static, the binary at /opa, user 1000, `run` as the default command).
ARG STATIC_IMAGE=mlops-platform/static:bookworm
FROM ${STATIC_IMAGE}
COPY opa /opa
USER 1000:1000
ENTRYPOINT ["/opa"]
CMD ["run"]
