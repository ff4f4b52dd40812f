"""What the demo's steps share: the blueprint, the running platform, the data, and the summary they fill in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from blueprints.schema import Blueprint
from services.demo.running import DemoError, RunningPlatform

__all__ = ["Walk"]


@dataclass
class Walk:
    """What the steps share: the blueprint, the platform, the data, and the summary they fill in."""

    blueprint: Blueprint
    platform: RunningPlatform
    say: Callable[[str], None]
    drift_timeout: float = 240.0
    retrain_timeout: float = 300.0
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    summary: dict = field(
        default_factory=lambda: {
            "promoted": [],
            "answers": 0,
            "drift_alert": None,
            "batch": [],
            "retrain": None,
            "erasure": [],
        }
    )
    registered: dict[str, list[str]] = field(default_factory=dict)  # model -> versions the train step made

    def __post_init__(self) -> None:
        from sklearn.datasets import load_iris

        data = load_iris()  # ships with scikit-learn: no download
        self.x, self.y = data.data, data.target

    def models(self):
        """The centrally trained models, which the demo trains (on iris, or on their feature service's example);
        federated ones have a step of their own."""
        return [(t, m) for t in self.blueprint.tenants for m in t.models if m.federated is None]

    def retrained_on_drift(self):
        """(tenant, model) of the first model the drift alert retrains, or None: the drift, retrain and
        challenger steps walk that loop."""
        return next(
            ((t, m) for t, m in self.models() if m.training is not None and "drift" in m.training.triggers), None
        )

    def require(self, step: str, component: str) -> str:
        url = self.platform.url(component)
        if url is None:
            raise DemoError(f"step {step}: {self.platform.missing(component)}")
        return url
