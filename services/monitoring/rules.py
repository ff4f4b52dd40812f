"""Recording and alerting rules for the platform, as one Prometheus rule file.

Alert names are stable identifiers (Alertmanager routes and the training trigger match on them).
"""

from __future__ import annotations

from typing import Any

__all__ = ["alert_rules", "ALERT_SERVICE_DOWN", "ALERT_REGISTRY_DOWN"]

ALERT_SERVICE_DOWN = "ModelServerDown"
ALERT_REGISTRY_DOWN = "RegistryDown"


def alert_rules() -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "mlops-platform.availability",
                "rules": [
                    {
                        "alert": ALERT_SERVICE_DOWN,
                        "expr": 'up{job="model-server"} == 0',
                        "for": "2m",
                        "labels": {"severity": "critical"},
                        "annotations": {
                            "summary": "Model server {{ $labels.instance }} is down",
                            "description": "Prometheus cannot scrape the model server of tenant {{ $labels.tenant }}.",
                        },
                    },
                    {
                        "alert": ALERT_REGISTRY_DOWN,
                        "expr": 'up{job="registry-server"} == 0',
                        "for": "2m",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "Model registry {{ $labels.instance }} is down"},
                    },
                ],
            }
        ],
    }
