"""The demo's steps: named, listed in order, and failing (never skipping) when the platform lacks a piece a
declared step needs; a step whose subject the blueprint does not declare passes and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from blueprints import load
from services.cli import main
from services.demo import STEPS
from services.demo.running import DemoError
from services.demo.steps import batch, challenger, drift, erasure, features, retrain
from services.demo.walk import Walk


class FakePlatform:
    """A platform with a model server per tenant and only the components given."""

    def __init__(self, components: dict[str, str], skipped: dict[str, str] | None = None, data: Path | None = None):
        self.components, self.skipped, self.data = components, skipped or {}, data

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

    def audit_entries(self) -> list[dict]:
        return []

    def feature_data(self, tenant: str) -> Path:
        assert self.data is not None
        return self.data / tenant


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
        "erasure",
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
    for step in (features, batch, drift, retrain, challenger, erasure):
        step(walk)
    no_retraining = "no model of this blueprint is retrained on drift (training.triggers: [drift] is not declared)"
    assert lines == [
        "[features] no tenant of this blueprint declares a feature store",
        "[batch] no batch job in this blueprint",
        f"[drift] {no_retraining}: the drift alert has no loop to start",
        f"[retrain] {no_retraining}",
        "[challenger] no retrained version in this blueprint's lifecycle",
        "[erasure] no feature view of this blueprint holds personal data (classification.pii)",
    ]


def test_the_enterprise_blueprint_declares_no_drift_loop_and_its_steps_pass_without_prometheus():
    lines: list[str] = []
    walk = _walk("enterprise", FakePlatform({}, {"prometheus": "binary not on PATH"}), lines)
    for step in (batch, drift, retrain, challenger):
        step(walk)
    assert [line.split()[0] for line in lines] == ["[batch]", "[drift]", "[retrain]", "[challenger]"]
    assert walk.summary["drift_alert"] is None and walk.summary["retrain"] is None


def test_the_drift_loop_walks_the_model_retrained_on_drift_not_the_first_model():
    walk = _walk("multi-tenant", FakePlatform({}), [])
    tenant, model = walk.retrained_on_drift()
    assert (tenant.name, model.name) == ("fraud", "fraud-scorer")


def test_the_erasure_step_on_a_platform_other_than_standalone_fails_naming_why():
    with pytest.raises(DemoError, match="step erasure: it reads and deletes a tenant's feature data directly"):
        erasure(_walk("enterprise", FakePlatform({"mlflow": "http://127.0.0.1:1"}), []))


def test_a_feature_view_the_demo_has_no_example_for_fails_the_features_step_naming_it(tmp_path):
    import yaml

    from blueprints.loader import BLUEPRINT_DIR

    spec = yaml.safe_load((BLUEPRINT_DIR / "enterprise.yaml").read_text())
    spec["tenants"][0]["features"]["featureViews"][0]["features"].append({"name": "postcode_risk"})
    path = tmp_path / "other-view.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(DemoError, match="step features: tenant 'payments': view 'customer_activity'") as error:
        features(_walk(str(path), FakePlatform({}, data=tmp_path), []))
    assert "write its Parquet file" in str(error.value) and "customers/activity.parquet" in str(error.value)
    assert not (tmp_path / "payments").exists()  # nothing half-written


def test_the_llm_step_on_a_blueprint_with_llms_needs_a_standalone_platform_and_says_so():
    platform = FakePlatform({"mlflow": "http://127.0.0.1:5000"}, {"llm-gateway": "no LLM gateway"})
    lines: list[str] = []
    with pytest.raises(DemoError, match="step llm: it reads the tenants' gateway keys of a standalone platform"):
        STEPS[-1].run(_walk("llm", platform, lines))


def test_the_llm_step_on_a_blueprint_without_llms_says_so_and_passes():
    lines: list[str] = []
    STEPS[-1].run(_walk("foundation", FakePlatform({}), lines))
    assert lines == ["[llm] this blueprint serves no LLM"]


def test_the_drift_loop_on_a_blueprint_with_only_federated_models_passes_saying_so():
    lines: list[str] = []
    walk = _walk("federated", FakePlatform({}), lines)
    assert walk.models() == []  # (the drift step used to take the first of them: an IndexError)
    for step in (drift, retrain, challenger):
        step(walk)
    assert [line.split()[0] for line in lines] == ["[drift]", "[retrain]", "[challenger]"]
