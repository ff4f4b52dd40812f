"""Unit prices for cost showback (ADR 0006)."""

from __future__ import annotations

from pydantic import Field

from blueprints.schema.fields import Spec


class CostSettings(Spec):
    """Unit prices for showback. Defaults are typical on-demand cloud prices, per hour."""

    currency: str = "USD"
    cpu_core_hour: float = Field(default=0.0316, ge=0)
    memory_gib_hour: float = Field(default=0.0042, ge=0)
    storage_gib_month: float = Field(default=0.10, ge=0)
