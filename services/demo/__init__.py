"""`mlplat demo`: the model lifecycle, end to end, on a running platform, as named steps.

    features    each feature store's offline data written and materialized
    train       every model trained and registered by its tenant's own user (ADR 0017)
    gate        each version approved and promoted by the gate: champion, then challenger
    federated   each federated model trained over simulated devices, gated and served
    serve       traffic to every model, answers checked against the labels
    batch       each batch job run once on a file with bad rows in it
    drift       drifted traffic until Prometheus fires the drift alert
    retrain     Alertmanager calls the training trigger; a run registers a version the gate passes
    challenger  the model server serves it as the challenger at the canary weight
    erasure     one customer erased from personal feature data; the gate refuses the model trained on them
    llm         each LLM registered, gated and promoted; tenants' traffic through the LLM gateway

The steps live in services/demo/steps.py, one function each; what they do to the platform (data,
training, traffic) in lifecycle.py; the platform they walk (standalone's state file, or a cluster) in
running.py. `mlplat demo --list` prints the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blueprints.schema import Blueprint
from services.demo.running import DemoError, RunningPlatform, StandalonePlatform, platform_urls
from services.demo.steps import STEPS, Step
from services.demo.walk import Walk

__all__ = ["Demo", "DemoError", "STEPS", "Step", "platform_urls"]


@dataclass
class Demo:
    blueprint: Blueprint
    root: Path
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    drift_timeout: float = 240.0
    retrain_timeout: float = 300.0
    platform: RunningPlatform | None = None  # default: the standalone platform running from `root`

    def run(self) -> dict:
        """Every step in order; returns what each found (versions promoted, answers, alert, retrained version)."""
        import mlflow

        platform = self.platform or StandalonePlatform(self.root)
        walk = Walk(self.blueprint, platform, self.say, self.drift_timeout, self.retrain_timeout)
        mlflow.set_tracking_uri(walk.require("demo", "mlflow"))
        for step in STEPS:
            step.run(walk)
        return walk.summary
