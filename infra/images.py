"""Third-party images, pinned. One place to read, audit and bump them.

Tags are real releases, never `latest`; the policy pack and the admission rules reject unpinned
images, so a bump here is the only way a version changes.
"""

POSTGRES = "docker.io/library/postgres:15.13-alpine"
PROMETHEUS = "quay.io/prometheus/prometheus:v3.5.0"
ALERTMANAGER = "quay.io/prometheus/alertmanager:v0.28.1"
GRAFANA = "docker.io/grafana/grafana:12.0.2"
METRICS_SERVER = "registry.k8s.io/metrics-server/metrics-server:v0.8.0"
GATEWAY = "docker.io/nginxinc/nginx-unprivileged:1.28.0-alpine"
KUBE_STATE_METRICS = "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.15.0"
PUSHGATEWAY = "quay.io/prometheus/pushgateway:v1.11.3"
# The release infra/toolchain.toml pins for `opa eval` here; the static build runs as 1000:1000.
OPA = "docker.io/openpolicyagent/opa:1.22.4-static"
# PostgreSQL 15 with pgvector: the LLM gateway's semantic cache (infra/components/llm_gateway.py)
PGVECTOR = "docker.io/pgvector/pgvector:0.8.0-pg15"

# Numeric user ids the images above run as; pods pin them so `runAsNonRoot` can be verified.
POSTGRES_UID = 70  # the alpine image's postgres user
PGVECTOR_UID = 999  # the Debian-based postgres image's postgres user
PROMETHEUS_UID = 65534  # nobody
GRAFANA_UID = 472
GATEWAY_UID = 101  # nginx
OPA_UID = 1000  # the upstream image's USER
PLATFORM_UID = 10001  # services/Dockerfile's `mlplat` user

# Not deployed into the cluster: the local registry of the kind path (kind's local-registry guide runs
# it as the container `kind-registry`), which serves the images built here (docs/air-gapped.md).
REGISTRY = "docker.io/library/registry:3.0.0"


def deployed(ref: str, mirror: str | None) -> str:
    """The reference a pod uses: `ref`, or the same path and tag under the blueprint's image mirror
    (`platform.imageMirror`; the rule is services/images/mirror.py's)."""
    if not mirror:
        return ref
    from services.images.mirror import mirrored

    return mirrored(ref, mirror)


def platform_image(image, mirror: str | None, content_tag: str | None = None):
    """The platform's own image (an ImageRef) as pods pull it: at its build's content tag when the deploy
    names one, under the mirror when there is one. Its release tag, which labels objects, stays."""
    ref = f"{image.ref.rpartition(':')[0]}:{content_tag}" if content_tag else image.ref
    ref = deployed(ref, mirror)
    return image if ref == image.ref else image.pulled_as(ref)
