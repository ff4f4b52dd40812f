"""The field types every blueprint section uses: DNS names, Kubernetes quantities, cron schedules,
resources, and the base class that makes every section camelCase, strict and immutable."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

from blueprints.cron import CronError, parse_cron
from blueprints.quantity import QuantityError, parse_quantity

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def repeated(names: list[str]) -> int | None:
    """The index of the first name already seen earlier in the list (its second declaration, which
    the error message points at), or None when every name is unique."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            return index
        seen.add(name)
    return None


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            'starting and ending with a letter or digit (e.g. "fraud-team")'
        )
    return value


def _quantity(value: str | int | float) -> str:
    try:
        parse_quantity(value)
    except QuantityError:
        raise ValueError(f'{value!r} is not a Kubernetes quantity (e.g. "4" or "500m")') from None
    return str(value)


def _memory(value: str | int | float) -> str:
    text = _quantity(value)
    if parse_quantity(text) < 1024 * 1024:
        raise ValueError(f'{value!r} is under 1 MiB: memory needs a unit (e.g. "512Mi" or "2Gi")')
    return text


DnsName = Annotated[str, AfterValidator(_dns_label)]
CpuQuantity = Annotated[str | int | float, AfterValidator(_quantity)]
MemoryQuantity = Annotated[str | int | float, AfterValidator(_memory)]
StorageQuantity = Annotated[str | int | float, AfterValidator(_memory)]


class Spec(BaseModel):
    """Base for every blueprint section: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


class ResourceList(Spec):
    cpu: CpuQuantity
    memory: MemoryQuantity

    def cores(self) -> Decimal:
        return parse_quantity(self.cpu)

    def bytes(self) -> Decimal:
        return parse_quantity(self.memory)


class Resources(Spec):
    """Container requests and limits. Requests are what the scheduler and the cost model count."""

    requests: ResourceList
    limits: ResourceList

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        if self.requests.cores() > self.limits.cores():
            raise ValueError(
                f"requests.cpu {self.requests.cpu!r} exceeds limits.cpu {self.limits.cpu!r}: "
                "raise the limit or lower the request"
            )
        if self.requests.bytes() > self.limits.bytes():
            raise ValueError(
                f"requests.memory {self.requests.memory!r} exceeds limits.memory {self.limits.memory!r}: "
                "raise the limit or lower the request"
            )
        return self


def _cron(schedule: str) -> str:
    try:
        _ = parse_cron(schedule).max_interval_seconds  # also rejects schedules that never fire
    except CronError as exc:
        raise ValueError(str(exc)) from None
    return schedule


CronSchedule = Annotated[str, AfterValidator(_cron)]
