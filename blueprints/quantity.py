"""Kubernetes resource quantities ("500m", "2", "512Mi", "1.5Gi") as exact numbers.

The blueprint, the cost model and the footprint report all add quantities up, so they share one
parser. It follows the grammar of Kubernetes' `resource.Quantity` for the suffixes a platform
spec uses: decimal SI (m, k, M, G, T, P, E), binary SI (Ki .. Ei) and plain exponents (1e3).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["QuantityError", "parse_quantity", "cpu_cores", "memory_bytes", "format_bytes"]

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^(?P<num>[+]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]|[eE][+-]?\d+)?$")


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Decimal:
    """Return the quantity as an exact Decimal in base units (cores or bytes)."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int | float):
        if value < 0:
            raise QuantityError(f"{value!r} is negative")
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise QuantityError(f"{value!r} is not a Kubernetes quantity") from exc
    suffix = match["suffix"] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * _SUFFIXES[suffix]


def cpu_cores(value: str | int | float) -> Decimal:
    return parse_quantity(value)


def memory_bytes(value: str | int | float) -> Decimal:
    return parse_quantity(value)


def format_bytes(value: Decimal | int) -> str:
    """Render bytes the way a reader compares them: in GiB with two decimals, or MiB below 1 GiB."""
    value = Decimal(value)
    gib = value / _SUFFIXES["Gi"]
    if gib >= 1:
        return f"{gib:.2f} GiB"
    return f"{value / _SUFFIXES['Mi']:.0f} MiB"
