"""The demo's steps: named, listed in order, and failing (never skipping) when the platform lacks a piece a
declared step needs; a step whose subject the blueprint does not declare passes and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueprints import load
from services.cli import main
from services.demo import STEPS
from services.demo.running import DemoError
from services.demo.steps import batch, challenger, drift, features, retrain
from services.demo.walk import Walk


class FakePlatform:
    """A platform with a model server per tenant and only the components given."""

    def __init__(self, components: dict[str, str], skipped: dict[str, str] | None = None):
        self.components, self.skipped = components, skipped or {}

    def url(self, component: str) -> str | None:
        return self.components.get(component)

    def model_url(self, tenant: str, model: str) -> str | None:
        return f"http://127.0.0.1:1/{tenant}"

    def missing(self, component: str) -> str:
        return f"{component} is not running ({self.skipped.get(component, 'not part of this platform')})"

    def schedules(self, kind: str) -> list[dict]:
        return []

    def audit_log(self) -> Path:
        return Path("/nonexistent")


def _walk(blueprint: str, platform: FakePlatform, lines: list[str]) -> Walk:
    return Walk(load(blueprint), platform, lines.append)


def test_the_steps_are_named_in_the_order_they_run():
    assert [step.name for step in STEPS] == [
        "features",
        "train",
        "gate",
        "federated",
        "serve",
        "batch",
        "drift",
        "retrain",
        "challenger",
        "llm",
    ]
    assert all(step.what for step in STEPS)


def test_mlplat_demo_list_prints_every_step_and_starts_nothing(capsys):
    assert main(["demo", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [step.name for step in STEPS]


def test_the_drift_step_fails_naming_prometheus_and_why_it_is_missing():
    platform = FakePlatform(
        {"mlflow": "http://127.0.0.1:1"}, {"prometheus": "binary not on PATH (apt-get install prometheus)"}
    )
    with pytest.raises(DemoError, match=r"step drift: prometheus is not running \(binary not on PATH"):
        drift(_walk("foundation", platform, []))


def test_retraining_a_declared_model_without_the_training_trigger_fails_the_step():
    walk = _walk("foundation", FakePlatform({"alertmanager": "http://127.0.0.1:1"}), [])
    walk.summary["drift_alert"], walk.summary["drift_fired"] = {"labels": {}}, 0.0
    with pytest.raises(DemoError, match="step retrain: training-trigger is not running"):
        retrain(walk)


def test_retraining_without_alertmanager_fails_the_step_rather_than_waiting_for_nothing():
    walk = _walk("foundation", FakePlatform({"training-trigger": "http://127.0.0.1:1"}), [])
    walk.summary["drift_alert"], walk.summary["drift_fired"] = {"labels": {}}, 0.0
    with pytest.raises(DemoError, match="step retrain: alertmanager is not running"):
        retrain(walk)


def test_a_declared_batch_job_the_platform_does_not_schedule_fails_the_step():
    with pytest.raises(DemoError, match="step batch: the platform does not schedule batch job"):
        batch(_walk("multi-tenant", FakePlatform({}), []))


def test_steps_the_blueprint_does_not_declare_pass_and_say_so(tmp_path):
    import yaml

    from blueprints.loader import BLUEPRINT_DIR

    spec = yaml.safe_load((BLUEPRINT_DIR / "foundation.yaml").read_text())
    for tenant in spec["tenants"]:
        tenant["batch"] = []
        for model in tenant["models"]:
            model.pop("training", None)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(spec))
    lines: list[str] = []
    walk = _walk(str(path), FakePlatform({}), lines)
    for step in (features, batch, retrain, challenger):
        step(walk)
    assert lines == [
        "[features] no tenant of this blueprint declares a feature store",
        "[batch] no batch job in this blueprint",
        f"[retrain] {walk.blueprint.tenants[0].name}/{walk.blueprint.tenants[0].models[0].name} is not retrained "
        "on drift in this blueprint",
        "[challenger] no retrained version in this blueprint's lifecycle",
    ]


def test_the_llm_step_on_a_blueprint_with_llms_needs_the_gateway_and_names_it():
    platform = FakePlatform({"mlflow": "http://127.0.0.1:5000"}, {"llm-gateway": "no LLM gateway"})
    lines: list[str] = []
    with pytest.raises(DemoError, match="step llm: llm-gateway"):
        STEPS[-1].run(_walk("llm", platform, lines))


def test_the_llm_step_on_a_blueprint_without_llms_says_so_and_passes():
    lines: list[str] = []
    STEPS[-1].run(_walk("foundation", FakePlatform({}), lines))
    assert lines == ["[llm] this blueprint serves no LLM"]
