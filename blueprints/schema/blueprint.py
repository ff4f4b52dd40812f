"""The whole document: metadata, platform settings and tenants, with the rules that span sections
(unique names, registries, feature services, quotas that hold the tenants' peaks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from blueprints.quantity import parse_quantity
from blueprints.schema.federated import federated_job_name
from blueprints.schema.fields import DnsName, Spec, repeated
from blueprints.schema.llm import check_llm
from blueprints.schema.platform import Platform
from blueprints.schema.tenant import Tenant, tenant_peak_limits


class Metadata(Spec):
    name: DnsName
    description: str = ""


class Blueprint(Spec):
    """A whole platform: the document a `blueprints/*.yaml` file holds."""

    api_version: Literal["mlops-platform/v1"] = Field(alias="apiVersion")
    kind: Literal["Blueprint"]
    metadata: Metadata
    platform: Platform = Platform()
    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_unique(self) -> Blueprint:
        # Raised with the full field path, so the message points at the second declaration.
        index = repeated([t.name for t in self.tenants])
        if index is not None:
            raise ValueError(
                f"tenants[{index}].name: tenant {self.tenants[index].name!r} is declared twice: "
                "tenant names are unique (they are namespace names)"
            )
        for index, tenant in enumerate(self.tenants):
            m_index = repeated([m.name for m in tenant.models])
            if m_index is not None:
                raise ValueError(
                    f"tenants[{index}].models[{m_index}].name: model {tenant.models[m_index].name!r} is declared "
                    "twice: model names are unique in a tenant"
                )
            jobs_seen = {f"{m.name}-training" for m in tenant.models if m.training}
            jobs_seen |= {federated_job_name(m.name) for m in tenant.models if m.federated}
            for b_index, job in enumerate(tenant.batch):
                if job.name in jobs_seen:
                    raise ValueError(
                        f"tenants[{index}].batch[{b_index}].name: {job.name!r} is already a CronJob name in "
                        "this tenant (batch jobs, <model>-training for trained models, <model>-federated for "
                        "federated ones): pick another name"
                    )
                jobs_seen.add(job.name)
        return self

    @model_validator(mode="after")
    def _ha_registry_has_a_spare(self) -> Blueprint:
        registry = self.platform.registry
        if self.platform.ha and registry.replicas < 2:
            raise ValueError(
                f"platform.registry.replicas: {registry.replicas} with platform.ha: true leaves the registry "
                "without a spare (a drained node takes it down): set replicas to 2 or more, or ha: false"
            )
        return self

    @model_validator(mode="after")
    def _model_names_unique_per_registry(self) -> Blueprint:
        # Registered model names are global in an MLflow server: two tenants of the shared registry
        # declaring one name would share (and overwrite) one model. ADR 0017.
        owners: dict[str, str] = {}
        for index, tenant in enumerate(self.tenants):
            if tenant.registry != "shared":
                continue
            for m_index, model in enumerate(tenant.models):
                if model.name in owners:
                    raise ValueError(
                        f"tenants[{index}].models[{m_index}].name: model {model.name!r} is already declared by "
                        f"tenant {owners[model.name]!r}, and registered model names are global in the shared "
                        f"registry: rename it (e.g. {tenant.name}-{model.name}), or give tenant {tenant.name!r} "
                        "registry: dedicated"
                    )
                owners[model.name] = tenant.name
        return self

    @model_validator(mode="after")
    def _model_features_resolve(self) -> Blueprint:
        for index, tenant in enumerate(self.tenants):
            for m_index, model in enumerate(tenant.models):
                if model.features is None:
                    continue
                where = f"tenants[{index}].models[{m_index}].features"
                store = tenant.features
                if store is None:
                    raise ValueError(
                        f"{where}.service: tenant {tenant.name!r} declares no feature store: add features "
                        "(entities, featureViews, featureServices) to the tenant, or remove the model's features"
                    )
                if store.service(model.features.service) is None:
                    known = [s.name for s in store.feature_services]
                    raise ValueError(
                        f"{where}.service: no feature service {model.features.service!r} in tenant "
                        f"{tenant.name!r}; declared services: {known}"
                    )
                names = [f.name for _, f in store.service_features(model.features.service)]
                if model.features.defaults and set(model.features.defaults) != set(names):
                    missing = sorted(set(names) - set(model.features.defaults))
                    extra = sorted(set(model.features.defaults) - set(names))
                    raise ValueError(
                        f"{where}.defaults: give exactly one value per feature of service "
                        f"{model.features.service!r} ({', '.join(names)})"
                        + (f"; missing {missing}" if missing else "")
                        + (f"; not in the service: {extra}" if extra else "")
                    )
                if model.training is not None:
                    raise ValueError(
                        f"{where}: model {model.name!r} has training too, and the training trigger's runs do not "
                        "mount the feature store yet: train it with get_historical_features (docs/features.md) "
                        "and remove training, or drop features"
                    )
        return self

    @model_validator(mode="after")
    def _training_uses_the_shared_registry(self) -> Blueprint:
        for index, tenant in enumerate(self.tenants):
            for m_index, model in enumerate(tenant.models):
                if model.training is not None and tenant.registry == "dedicated":
                    raise ValueError(
                        f"tenants[{index}].models[{m_index}].training: the training trigger works with the shared "
                        f"registry, and tenant {tenant.name!r} has a dedicated one: remove training, or use "
                        "registry: shared"
                    )
        return self

    @model_validator(mode="after")
    def _llm_names_resolve(self) -> Blueprint:
        check_llm(self.platform.llm, self.tenants)  # blueprints/schema/llm.py
        return self

    @model_validator(mode="after")
    def _models_fit_quotas(self) -> Blueprint:
        for index, tenant in enumerate(self.tenants):
            cpu, memory, pods = tenant_peak_limits(tenant, self.platform)
            quota_cpu, quota_mem = parse_quantity(tenant.quotas.cpu), parse_quantity(tenant.quotas.memory)
            where = f"tenants[{index}].quotas"
            if cpu > quota_cpu:
                raise ValueError(
                    f"{where}.cpu: {tenant.quotas.cpu!r} is less than the {_fmt(cpu)} CPU the tenant's workloads "
                    "may use at max replicas (limits): raise the quota or lower replicas.max or limits.cpu"
                )
            if memory > quota_mem:
                raise ValueError(
                    f"{where}.memory: {tenant.quotas.memory!r} is less than the {_fmt(memory / 2**20)}Mi the "
                    "tenant's workloads may use at max replicas (limits): raise the quota or lower replicas.max "
                    "or limits.memory"
                )
            storage = sum((parse_quantity(job.storage) for job in tenant.batch), Decimal(0))
            if tenant.features is not None:
                storage += parse_quantity(tenant.features.storage)
            if storage > parse_quantity(tenant.quotas.storage):
                raise ValueError(
                    f"{where}.storage: {tenant.quotas.storage!r} is less than the {_fmt(storage / 2**30)}Gi the "
                    "tenant's batch jobs and feature data claim for their volumes: raise the quota or lower "
                    "batch[].storage or features.storage"
                )
            if pods > tenant.quotas.pods:
                raise ValueError(
                    f"{where}.pods: {tenant.quotas.pods} is less than the {pods} pods the tenant's workloads may "
                    "run at max replicas: raise the quota or lower replicas.max"
                )
        return self

    def under_mirror(self, mirror: str) -> Blueprint:
        """This blueprint with every image pulled from `mirror` (the kind path's local registry, say)."""
        data = self.model_dump(by_alias=True)
        data["platform"] = self.platform.under_mirror(mirror).model_dump(by_alias=True)
        return Blueprint.model_validate(data)

    def tenant(self, name: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise KeyError(name)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"
