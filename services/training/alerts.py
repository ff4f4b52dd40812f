"""Alertmanager's webhook payload (format version 4), validated; a malformed one names the field.

    {"version": "4", "status": "firing", "receiver": "...", "groupLabels": {...},
     "alerts": [{"status": "firing", "labels": {"alertname": ..., "tenant": ..., "model": ...},
                 "annotations": {...}, "startsAt": "...", "endsAt": "...", "fingerprint": "..."}]}

Only what the trigger uses is required: the alerts, each with a status, labels with `alertname`,
and Alertmanager's `fingerprint` (which the audit log records).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Alert", "PayloadError", "parse_alertmanager"]


class PayloadError(ValueError):
    """Not an Alertmanager webhook payload; `field` is where it went wrong."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class Alert:
    name: str
    status: str  # "firing" or "resolved"
    labels: dict[str, str]
    fingerprint: str
    starts_at: str = ""


def parse_alertmanager(body: bytes) -> list[Alert]:
    try:
        document: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"the body is not JSON ({exc}); Alertmanager sends a JSON object") from None
    if not isinstance(document, dict):
        raise PayloadError("the body must be a JSON object (Alertmanager's webhook payload)")
    if str(document.get("version", "")) != "4":
        raise PayloadError(
            f"version {document.get('version')!r} is not Alertmanager's webhook format 4; point a webhook_configs "
            "receiver of Alertmanager 0.x at this URL",
            "version",
        )
    alerts = document.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts must be a non-empty list", "alerts")
    return [_alert(index, raw) for index, raw in enumerate(alerts)]


def _alert(index: int, raw: Any) -> Alert:
    where = f"alerts[{index}]"
    if not isinstance(raw, dict):
        raise PayloadError(f"{where} must be an object", where)
    if raw.get("status") not in ("firing", "resolved"):
        raise PayloadError(
            f"{where}.status must be 'firing' or 'resolved', got {raw.get('status')!r}", f"{where}.status"
        )
    labels = raw.get("labels")
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise PayloadError(f"{where}.labels must be an object of strings", f"{where}.labels")
    if not labels.get("alertname"):
        raise PayloadError(f"{where}.labels.alertname is missing", f"{where}.labels.alertname")
    fingerprint = raw.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise PayloadError(f"{where}.fingerprint must be a non-empty string", f"{where}.fingerprint")
    return Alert(labels["alertname"], raw["status"], dict(labels), fingerprint, str(raw.get("startsAt", "")))
