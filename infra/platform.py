"""Platform: the whole blueprint as one ComponentResource.

It composes, in dependency order: the platform namespace, the shared model registry, monitoring,
the gateway, cluster add-ons, the admission policies, each tenant's isolated namespace, the shared
registry's users and permissions (RegistryAccess), then per tenant a dedicated registry with its own
users when the tenant asks for one, its feature store (FeatureStore) when it declares features, one
ModelService per model, one BatchScoring per batch job, one ModelTraining (a Job template) per
trained model and one FederatedLearning (its runs' Job) per federated model; then the training
trigger when any model is trained. Every decision about WHAT to build comes from the blueprint;
this module only decides HOW the pieces connect (which registry a tenant's models talk to, which
pods a tenant's NetworkPolicies admit, where Alertmanager sends the drift alert, where batch jobs
push their metrics, which online store a model reads).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from blueprints.naming import SYSTEM_NAMESPACE, NodePorts, selector_labels, standard_labels, tenant_namespace
from blueprints.schema import Blueprint
from blueprints.schema import Tenant as TenantSpec
from infra import images
from infra.components.admission_policies import AdmissionPolicies, AdmissionPoliciesArgs
from infra.components.batch_scoring import BatchScoring, BatchScoringArgs
from infra.components.compliance_check import ComplianceCheck, ComplianceCheckArgs
from infra.components.feature_store import FeatureStore, FeatureStoreArgs
from infra.components.federated_learning import FederatedLearning, FederatedLearningArgs
from infra.components.gateway import Gateway, GatewayArgs, gateway_selector
from infra.components.llm_gateway import LLMGateway, LLMGatewayArgs, llm_gateway_selector
from infra.components.llm_service import LLMService, LLMServiceArgs, llm_image
from infra.components.metrics_server import MetricsServer, MetricsServerArgs
from infra.components.model_registry import ModelRegistry, ModelRegistryArgs, server_selector
from infra.components.model_service import ModelService, ModelServiceArgs
from infra.components.model_training import ModelTraining, ModelTrainingArgs
from infra.components.monitoring import (
    Monitoring,
    MonitoringArgs,
    prometheus_selector,
    pushgateway_selector,
    pushgateway_url,
)
from infra.components.registry_access import RegistryAccess, RegistryAccessArgs
from infra.components.tenant import Tenant, TenantArgs
from infra.components.training_trigger import TrainingTrigger, TrainingTriggerArgs, alerts_url
from infra.k8s import metadata
from services.features.spec import feature_specs, specs_to_json
from services.monitoring.rules import ALERT_DRIFT
from services.registry import DATABASE
from services.registry.access import access_plan, registry_instances

__all__ = ["Platform", "PlatformArgs"]


@dataclass(frozen=True)
class PlatformArgs:
    blueprint: Blueprint
    install_metrics_server: bool = True
    install_grafana: bool = True  # False where Grafana's image can be neither pulled nor built
    platform_image_tag: str | None = None  # the build's content tag, which the kind path deploys


def _registry_namespace(instance: str) -> str:
    """The shared registry lives in the platform's namespace, a dedicated one in its tenant's."""
    return SYSTEM_NAMESPACE if instance == "shared" else tenant_namespace(instance)


class Platform(pulumi.ComponentResource):
    """Everything a blueprint declares, on one cluster."""

    tracking_uri: pulumi.Output[str]
    tenant_namespaces: list[str]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops-platform:platform:Platform", name, None, opts)
        self.name, self.blueprint = name, args.blueprint
        blueprint, platform = args.blueprint, args.blueprint.platform
        # Every image, and the platform's own, as pods pull them: under platform.imageMirror when set.
        self.mirror = platform.image_mirror
        self.image = images.platform_image(platform.image, self.mirror, args.platform_image_tag)
        self.llm_image = images.platform_image(llm_image(platform.image), self.mirror)  # the LLM replicas' image
        trained = any(model.training for spec in blueprint.tenants for model in spec.models)

        system_ns = k8s.core.v1.Namespace(
            f"{name}-system",
            metadata=metadata(
                SYSTEM_NAMESPACE,
                None,
                {
                    **standard_labels("mlops-system", "platform", "namespace"),
                    "pod-security.kubernetes.io/enforce": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_system = pulumi.ResourceOptions(parent=self, depends_on=[system_ns])
        registry = ModelRegistry(
            f"{name}-registry",
            ModelRegistryArgs(
                namespace=SYSTEM_NAMESPACE,
                settings=platform.registry,
                image=self.image,
                ha=platform.ha,
                node_port=NodePorts.MLFLOW,
                mirror=self.mirror,
            ),
            opts=in_system,
        )
        self._platform_services(in_system, trained, args)
        tenants = {spec.name: self._tenant(spec) for spec in blueprint.tenants}
        self.tenant_namespaces = [tenant_namespace(spec.name) for spec in blueprint.tenants]
        self._shared_registry_access(registry, tenants)
        for spec in blueprint.tenants:
            self._tenant_workloads(spec, tenants[spec.name], registry)
        if trained:
            TrainingTrigger(
                f"{name}-training-trigger",
                TrainingTriggerArgs(blueprint=blueprint, image=self.image, tracking_uri=registry.tracking_uri),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[system_ns, *tenants.values()]),
            )
        if platform.compliance is not None:  # the compliance controls, checked on a schedule (ADR 0024)
            ComplianceCheck(
                f"{name}-compliance",
                ComplianceCheckArgs(
                    blueprint=blueprint,
                    image=self.image,
                    tracking_uri=registry.tracking_uri,
                    pushgateway_url=pushgateway_url(),
                    mirror=self.mirror,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[system_ns, registry]),
            )
        if platform.llm is not None:  # the LLM gateway, its embeddings and cache (docs/llm.md)
            LLMGateway(
                f"{name}-llm-gateway",
                LLMGatewayArgs(blueprint=blueprint, image=self.llm_image, mirror=self.mirror),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[system_ns, *tenants.values()]),
            )
        self.tracking_uri = registry.tracking_uri
        self.register_outputs({"tracking_uri": registry.tracking_uri, "tenant_namespaces": self.tenant_namespaces})

    def _platform_services(self, in_system: pulumi.ResourceOptions, trained: bool, args: PlatformArgs):
        """Monitoring, the serving gateway, the cluster add-ons kind lacks and the admission policies."""
        name, blueprint, platform = self.name, self.blueprint, self.blueprint.platform
        # every registry, by instance: the shared one (always deployed) and each dedicated tenant's
        registries = {i: _registry_namespace(i) for i in ("shared", *registry_instances(blueprint)) if i}
        Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                settings=platform.monitoring,
                # the drift alert starts a training run: Alertmanager posts it to the trigger
                alert_webhooks={ALERT_DRIFT: alerts_url(SYSTEM_NAMESPACE)} if trained else {},
                registries=registries,
                mirror=self.mirror,
                grafana=args.install_grafana,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        Gateway(
            f"{name}-gateway",
            GatewayArgs(blueprint=blueprint, replicas=2 if platform.ha else 1, mirror=self.mirror),
            opts=in_system,
        )
        if args.install_metrics_server:
            MetricsServer(
                f"{name}-metrics-server",
                MetricsServerArgs(mirror=self.mirror),
                opts=pulumi.ResourceOptions(parent=self),
            )
        AdmissionPolicies(
            f"{name}-admission",
            AdmissionPoliciesArgs(settings=platform.policy),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _tenant(self, spec: TenantSpec) -> Tenant:
        """A tenant's isolated namespace, with the paths its NetworkPolicies allow."""
        ns = tenant_namespace(spec.name)
        dedicated = spec.registry == "dedicated"
        return Tenant(
            f"{self.name}-tenant-{spec.name}",
            TenantArgs(
                spec=spec,
                registry_namespace=ns if dedicated else SYSTEM_NAMESPACE,
                registry_selector=server_selector(spec.name if dedicated else "shared"),
                gateway_selector=gateway_selector(),
                prometheus_selector=prometheus_selector(),
                pushgateway_selector=pushgateway_selector(),
                feature_database_selector=selector_labels(DATABASE, "shared"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _shared_registry_access(self, registry: ModelRegistry, tenants: dict[str, Tenant]) -> None:
        """Who may do what in the shared registry (ADR 0017): its users' Secrets, in the namespaces of the
        workloads that sign in with them, and the Job that grants their permissions."""
        blueprint = self.blueprint
        shared = [t.name for t in blueprint.tenants if t.registry == "shared"]
        RegistryAccess(
            f"{self.name}-registry-access",
            RegistryAccessArgs(
                plan=access_plan(blueprint, "shared"),
                namespace=SYSTEM_NAMESPACE,
                image=self.image,
                tenant_namespaces={t: tenant_namespace(t) for t in shared},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[registry, *(tenants[t] for t in shared)]),
        )

    def _dedicated_registry(self, spec: TenantSpec, in_tenant: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """A tenant's own registry and its users; returns its tracking URI."""
        name, platform, ns = self.name, self.blueprint.platform, tenant_namespace(spec.name)
        own = ModelRegistry(
            f"{name}-registry-{spec.name}",
            ModelRegistryArgs(
                namespace=ns,
                settings=platform.registry,
                image=self.image,
                ha=platform.ha,
                instance=spec.name,
                tenant=spec.name,
                mirror=self.mirror,
            ),
            opts=in_tenant,
        )
        RegistryAccess(
            f"{name}-registry-access-{spec.name}",
            RegistryAccessArgs(
                plan=access_plan(self.blueprint, spec.name),
                namespace=ns,
                image=self.image,
                tenant_namespaces={spec.name: ns},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[own]),
        )
        return own.tracking_uri

    def _tenant_workloads(self, spec: TenantSpec, tenant: Tenant, registry: ModelRegistry) -> None:
        """A tenant's registry (when dedicated), feature store, model services, training and batch jobs."""
        name, ns = self.name, tenant_namespace(spec.name)
        in_tenant = pulumi.ResourceOptions(parent=self, depends_on=[tenant])
        tracking_uri = registry.tracking_uri
        if spec.registry == "dedicated":
            tracking_uri = self._dedicated_registry(spec, in_tenant)
        specs, online_store = {}, None
        if spec.features is not None:
            store = FeatureStore(
                f"{name}-{spec.name}-features",
                FeatureStoreArgs(
                    tenant=spec, namespace=ns, image=self.image, pushgateway_url=pushgateway_url(), mirror=self.mirror
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[tenant, registry]),
            )
            specs, online_store = feature_specs(spec), store.online_store_url
        for model in spec.models:
            ModelService(
                f"{name}-{spec.name}-{model.name}",
                ModelServiceArgs(
                    tenant=spec.name,
                    namespace=ns,
                    model=model,
                    image=self.image,
                    tracking_uri=tracking_uri,
                    feature_spec=specs_to_json({model.name: specs[model.name]}) if model.name in specs else None,
                    online_store_url=online_store if model.name in specs else None,
                ),
                opts=in_tenant,
            )
            if model.training is not None:
                ModelTraining(
                    f"{name}-{spec.name}-{model.name}-training",
                    ModelTrainingArgs(
                        tenant=spec.name, namespace=ns, model=model, image=self.image, tracking_uri=tracking_uri
                    ),
                    opts=in_tenant,
                )
            if model.federated is not None:  # federated learning: the run spec and its Job (ADR 0023)
                FederatedLearning(
                    f"{name}-{spec.name}-{model.name}-federated",
                    FederatedLearningArgs(
                        tenant=spec.name, namespace=ns, model=model, image=self.image, tracking_uri=tracking_uri
                    ),
                    opts=in_tenant,
                )
        for llm in spec.llm.models if spec.llm else ():  # LLM serving (docs/llm.md)
            LLMService(
                f"{name}-{spec.name}-llm-{llm.name}",
                LLMServiceArgs(spec.name, ns, llm, self.llm_image, tracking_uri, llm_gateway_selector()),
                opts=in_tenant,
            )
        for job in spec.batch:
            BatchScoring(
                f"{name}-{spec.name}-batch-{job.name}",
                BatchScoringArgs(
                    tenant=spec.name,
                    namespace=ns,
                    job=job,
                    image=self.image,
                    tracking_uri=tracking_uri,
                    pushgateway_url=pushgateway_url(),
                ),
                opts=in_tenant,
            )
