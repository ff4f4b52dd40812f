"""Cost showback: what each tenant and model reserves, priced, and (when Prometheus is reachable)
what it actually uses.

The cost model (see docs/adr/0006-cost-model.md): a workload is charged for what it *requests*,
because requests are what the scheduler reserves for it and nobody else can use; priced per
core-hour and GiB-hour from the blueprint's `platform.costs`, plus its volumes per GiB-month.
Platform services (registry, monitoring, gateway) are shown as their own line, the shared
overhead. Measured usage (CPU seconds and resident memory of the model-server processes) is put
beside the request, and the request-to-usage ratio shows over-provisioning.

LLM spend is usage-priced instead (docs/llm.md): the gateway counts every tenant's tokens at the
blueprint's price per 1k input and output tokens (`mlplat_llm_spend_total`); `attach_llm_spend` puts
what a tenant spent over the window beside its compute, and the month at that rate.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from blueprints.naming import LABEL_MODEL, LABEL_TENANT
from blueprints.quantity import parse_quantity
from blueprints.schema import CostSettings

__all__ = [
    "CostLine",
    "requested_costs",
    "tenant_totals",
    "attach_usage",
    "query_usage",
    "query_llm_spend",
    "attach_llm_spend",
    "HOURS_PER_MONTH",
    "PLATFORM",
]

HOURS_PER_MONTH = Decimal(730)
GIB = Decimal(2**30)
PLATFORM = "(platform)"


@dataclass
class CostLine:
    tenant: str
    model: str  # "" for a tenant's non-model workloads (e.g. a dedicated registry)
    cpu_cores: Decimal = Decimal(0)
    memory_bytes: Decimal = Decimal(0)
    storage_bytes: Decimal = Decimal(0)
    used_cpu_cores: Decimal | None = None
    used_memory_bytes: Decimal | None = None
    monthly: Decimal = Decimal(0)
    llm_spend: Decimal | None = None  # LLM tokens at showback prices over the usage window
    llm_monthly: Decimal | None = None  # the same, at that rate for a month

    def price(self, costs: CostSettings) -> None:
        hourly = self.cpu_cores * Decimal(str(costs.cpu_core_hour)) + (self.memory_bytes / GIB) * Decimal(
            str(costs.memory_gib_hour)
        )
        storage = (self.storage_bytes / GIB) * Decimal(str(costs.storage_gib_month))
        self.monthly = (hourly * HOURS_PER_MONTH + storage).quantize(Decimal("0.01"))

    @property
    def cpu_ratio(self) -> Decimal | None:
        """Requested / used: 4.0 means four times more CPU reserved than used."""
        if self.used_cpu_cores is None or self.used_cpu_cores <= 0:
            return None
        return (self.cpu_cores / self.used_cpu_cores).quantize(Decimal("0.1"))

    @property
    def memory_ratio(self) -> Decimal | None:
        if self.used_memory_bytes is None or self.used_memory_bytes <= 0:
            return None
        return (self.memory_bytes / self.used_memory_bytes).quantize(Decimal("0.1"))

    def as_dict(self) -> dict[str, Any]:
        def num(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "tenant": self.tenant,
            "model": self.model,
            "cpu_cores": num(self.cpu_cores),
            "memory_gib": num(self.memory_bytes / GIB),
            "storage_gib": num(self.storage_bytes / GIB),
            "monthly": num(self.monthly),
            "used_cpu_cores": num(self.used_cpu_cores),
            "used_memory_gib": None if self.used_memory_bytes is None else float(self.used_memory_bytes / GIB),
            "cpu_request_to_usage": num(self.cpu_ratio),
            "memory_request_to_usage": num(self.memory_ratio),
            "llm_spend_window": num(self.llm_spend),
            "llm_monthly": num(self.llm_monthly),
        }


def _pod_template(manifest: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    kind, spec = manifest.get("kind"), manifest.get("spec", {})
    if kind in ("Deployment", "StatefulSet"):
        return spec["template"], int(spec.get("replicas", 1))
    return None


def requested_costs(manifests: list[dict[str, Any]], costs: CostSettings) -> list[CostLine]:
    """One line per (tenant, model), plus the platform's shared services, from rendered manifests."""
    lines: dict[tuple[str, str], CostLine] = {}

    def line(labels: dict[str, str]) -> CostLine:
        tenant = labels.get(LABEL_TENANT, PLATFORM)
        model = labels.get(LABEL_MODEL, "")
        return lines.setdefault((tenant, model), CostLine(tenant, model))

    for manifest in manifests:
        labels = manifest.get("metadata", {}).get("labels", {})
        found = _pod_template(manifest)
        if found:
            template, replicas = found
            target = line(template.get("metadata", {}).get("labels", {}) or labels)
            for container in template["spec"]["containers"]:
                requests = container.get("resources", {}).get("requests", {})
                target.cpu_cores += replicas * parse_quantity(requests.get("cpu", 0))
                target.memory_bytes += replicas * parse_quantity(requests.get("memory", 0))
            for claim in manifest.get("spec", {}).get("volumeClaimTemplates", []):
                target.storage_bytes += replicas * parse_quantity(claim["spec"]["resources"]["requests"]["storage"])
        elif manifest.get("kind") == "PersistentVolumeClaim":
            line(labels).storage_bytes += parse_quantity(manifest["spec"]["resources"]["requests"]["storage"])
    for cost_line in lines.values():
        cost_line.price(costs)
    return sorted(lines.values(), key=lambda c: (c.tenant == PLATFORM, c.tenant, c.model))


def query_usage(prometheus_url: str, window: str = "15m", timeout: float = 3.0) -> dict[str, dict[str, Decimal]]:
    """Measured CPU cores and resident memory of the model servers, per tenant (and model where known)."""
    servers, by = '{job="model-server"}', "sum by (tenant, model_deployment)"
    queries = {
        "cpu": f"{by} (rate(process_cpu_seconds_total{servers}[{window}]))",
        "memory": f"{by} (avg_over_time(process_resident_memory_bytes{servers}[{window}]))",
    }
    usage: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for metric, query in queries.items():
        url = f"{prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
        for sample in body["data"]["result"]:
            key = f"{sample['metric'].get('tenant', '')}/{sample['metric'].get('model_deployment', '')}"
            usage[key][metric] = Decimal(sample["value"][1])
    return dict(usage)


def tenant_totals(lines: list[CostLine], costs: CostSettings) -> list[CostLine]:
    """One `total` line per tenant (and the platform), summing its model lines."""
    totals: dict[str, CostLine] = {}
    for cost_line in lines:
        total = totals.setdefault(cost_line.tenant, CostLine(cost_line.tenant, "total"))
        total.cpu_cores += cost_line.cpu_cores
        total.memory_bytes += cost_line.memory_bytes
        total.storage_bytes += cost_line.storage_bytes
    for total in totals.values():
        total.price(costs)
    return sorted(totals.values(), key=lambda c: (c.tenant == PLATFORM, c.tenant))


def attach_usage(totals: list[CostLine], usage: dict[str, dict[str, Decimal]]) -> None:
    """Put measured usage of the tenant's model servers beside the tenant's total requests.

    Usage is compared per tenant: standalone runs one server process per tenant, so per-model usage
    does not exist there, and the same comparison then works on both targets.
    """
    by_tenant = {t.tenant: t for t in totals}
    for key, values in usage.items():
        total = by_tenant.get(key.split("/", 1)[0])
        if total is None:
            continue
        total.used_cpu_cores = (total.used_cpu_cores or Decimal(0)) + values.get("cpu", Decimal(0))
        total.used_memory_bytes = (total.used_memory_bytes or Decimal(0)) + values.get("memory", Decimal(0))


def _window_hours(window: str) -> Decimal:
    unit = {"s": Decimal(1) / 3600, "m": Decimal(1) / 60, "h": Decimal(1), "d": Decimal(24)}[window[-1]]
    return Decimal(window[:-1]) * unit


def query_llm_spend(prometheus_url: str, window: str = "15m", timeout: float = 3.0) -> dict[str, Decimal]:
    """Each tenant's LLM spend over `window`, as the LLM gateway counted it (showback prices)."""
    from services.monitoring.metric_names import LLM_SPEND

    query = f"sum by (tenant) (increase({LLM_SPEND}[{window}]))"
    url = f"{prometheus_url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = json.load(response)
    return {s["metric"].get("tenant", ""): Decimal(s["value"][1]) for s in body["data"]["result"]}


def attach_llm_spend(totals: list[CostLine], spend: dict[str, Decimal], window: str) -> None:
    """Put each tenant's LLM spend over the window, and a month at that rate, on its total line; a tenant
    that only calls LLMs (no workloads of its own) gets a total line for it."""
    hours = _window_hours(window)
    known = {t.tenant for t in totals}
    totals += [CostLine(tenant, "total") for tenant in sorted(spend) if tenant not in known]
    totals.sort(key=lambda c: (c.tenant == PLATFORM, c.tenant))
    for total in totals:
        if total.tenant in spend:
            total.llm_spend = spend[total.tenant].quantize(Decimal("0.000001"))
            total.llm_monthly = (spend[total.tenant] / hours * HOURS_PER_MONTH).quantize(Decimal("0.01"))
