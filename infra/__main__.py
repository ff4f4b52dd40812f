"""The Pulumi program: read stack config, load the blueprint, build the Platform.

Stack config (Pulumi.<stack>.yaml):
  mlops-platform:blueprint    a shipped blueprint's name (foundation, multi-tenant, enterprise)
                              or a path to any blueprint file, relative to the project root
  mlops-platform:kubeContext  the kubeconfig context to deploy to (e.g. kind-mlops); required, so
                              the program never deploys to whatever context happens to be current
  mlops-platform:kubeconfig   optional path to a kubeconfig file
  mlops-platform:metricsServer  install metrics-server (default true); the container-less sim cluster sets
                              false, because an aggregated API no container serves stalls API discovery
  mlops-platform:imageMirror  pull every image from this registry (overrides the blueprint's
                              platform.imageMirror); the kind path sets it when images cannot be pulled
  mlops-platform:platformImageTag  the tag pods pull the platform image at (its labels keep the release,
                              platform.image.tag); the kind path sets its build's content tag, so a
                              rebuilt image rolls the pods out
  mlops-platform:grafana      deploy Grafana (default true); the kind path sets false where its image can
                              be neither pulled nor built (docs/air-gapped.md)
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from blueprints import BlueprintError, load
from infra.platform import Platform, PlatformArgs

PROJECT_ROOT = Path(__file__).resolve().parent.parent

config = pulumi.Config()
try:
    blueprint = load(config.get("blueprint") or "multi-tenant", base=PROJECT_ROOT)
except BlueprintError as exc:
    raise pulumi.RunError(f"invalid blueprint:\n{exc}") from None

if config.get("imageMirror"):
    try:
        blueprint = blueprint.under_mirror(config.get("imageMirror"))
    except ValueError as exc:
        raise pulumi.RunError(f"mlops-platform:imageMirror: {exc}") from None

kube_context = config.require("kubeContext")
if not kube_context.strip():
    raise pulumi.RunError("mlops-platform:kubeContext is empty: name the kubeconfig context to deploy to")
provider = k8s.Provider(
    "cluster",
    context=kube_context,
    kubeconfig=config.get("kubeconfig") or None,
)
platform = Platform(
    "mlops",
    PlatformArgs(
        blueprint=blueprint,
        install_metrics_server=config.get_bool("metricsServer", True),
        install_grafana=config.get_bool("grafana", True),
        platform_image_tag=config.get("platformImageTag") or None,
    ),
    opts=pulumi.ResourceOptions(provider=provider),
)

pulumi.export("blueprint", blueprint.metadata.name)
pulumi.export("trackingUri", platform.tracking_uri)
pulumi.export("tenantNamespaces", platform.tenant_namespaces)
