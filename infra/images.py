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
# PostgreSQL 15 with pgvector: the LLM gateway's semantic cache (infra/components/llm_gateway.py)
PGVECTOR = "docker.io/pgvector/pgvector:0.8.0-pg15"

# Numeric user ids the images above run as; pods pin them so `runAsNonRoot` can be verified.
POSTGRES_UID = 70  # the alpine image's postgres user
PGVECTOR_UID = 999  # the Debian-based postgres image's postgres user
PROMETHEUS_UID = 65534  # nobody
GRAFANA_UID = 472
GATEWAY_UID = 101  # nginx
PLATFORM_UID = 10001  # services/Dockerfile's `mlplat` user
