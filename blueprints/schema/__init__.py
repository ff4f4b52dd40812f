"""The blueprint schema: WHAT the platform is, as typed data.

A blueprint is one YAML document (see `blueprints/*.yaml`): platform settings, tenants and each
tenant's models. Every key is typed and unknown keys are errors, the way kind's v1alpha4 config
works: a typo must never be silently ignored. Defaults are written here, once, so a reader sees
what an omitted key means. Cross-field rules (a tenant's models must fit its quota, requests must
not exceed limits, names are unique) live in validators beside the fields they check.

Keys are camelCase in YAML, like Kubernetes objects; the Python attributes are snake_case.

One module per concept, read top-down like the YAML: `blueprint` (the document and the rules that
span sections), `platform` (image, registry, backups, monitoring), `policy`, `costs`, `tenant`
(quotas, limits, batch jobs), `model` (serving, canary, training), `federated` (a model trained
by federated learning), `features` (the Feast project),
`data` (classification, purposes, residency, retention and the platform's compliance settings),
`llm` (LLMs, the gateway, routes and budgets) and `fields` (the types they all use). Import from
`blueprints.schema`; the modules are the layout.
"""

from blueprints.schema.blueprint import Blueprint, Metadata
from blueprints.schema.costs import CostSettings
from blueprints.schema.data import (
    CLASSIFICATIONS,
    AcceptedGap,
    ComplianceSettings,
    FeatureClassification,
    TenantData,
    retention_seconds,
)
from blueprints.schema.features import (
    ENTITY_TYPES,
    FEATURE_TYPES,
    Entity,
    Feature,
    FeatureServer,
    FeatureService,
    FeatureSource,
    FeatureView,
    Materialization,
    TenantFeatures,
    duration_seconds,
)
from blueprints.schema.federated import FederatedData, FederatedTraining, LocalTrainingSpec, PrivacySpec
from blueprints.schema.fields import ResourceList, Resources, repeated
from blueprints.schema.llm import (
    QUALITY_TIERS,
    Budgets,
    LLMModel,
    LLMPrices,
    PlatformLLM,
    Provider,
    Route,
    TenantLLM,
)
from blueprints.schema.model import TRAINING_TRIGGERS, Model, ModelFeatures, Replicas, TrainingSpec
from blueprints.schema.platform import (
    DUMP_MIN_RPO_MINUTES,
    BackupSettings,
    ImageRef,
    MonitoringSettings,
    Platform,
    RegistrySettings,
    SloSettings,
)
from blueprints.schema.policy import PolicySettings
from blueprints.schema.tenant import BatchJob, ContainerLimits, Quotas, Tenant, tenant_peak_limits

__all__ = [
    "Blueprint",
    "Metadata",
    "Platform",
    "Tenant",
    "Model",
    "Resources",
    "ResourceList",
    "Quotas",
    "ContainerLimits",
    "Replicas",
    "RegistrySettings",
    "BackupSettings",
    "DUMP_MIN_RPO_MINUTES",
    "MonitoringSettings",
    "SloSettings",
    "PolicySettings",
    "CostSettings",
    "ImageRef",
    "TrainingSpec",
    "BatchJob",
    "TRAINING_TRIGGERS",
    "FEATURE_TYPES",
    "ENTITY_TYPES",
    "TenantFeatures",
    "Entity",
    "FeatureView",
    "FeatureSource",
    "Feature",
    "FeatureService",
    "Materialization",
    "FeatureServer",
    "ModelFeatures",
    "FederatedTraining",
    "FederatedData",
    "LocalTrainingSpec",
    "PrivacySpec",
    "duration_seconds",
    "repeated",
    "tenant_peak_limits",
    "CLASSIFICATIONS",
    "AcceptedGap",
    "ComplianceSettings",
    "FeatureClassification",
    "TenantData",
    "retention_seconds",
    "QUALITY_TIERS",
    "PlatformLLM",
    "TenantLLM",
    "LLMModel",
    "LLMPrices",
    "Provider",
    "Route",
    "Budgets",
]
