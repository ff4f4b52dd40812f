"""Every alert fires when it should and stays silent when it should, per `promtool test rules`;
the generated Prometheus configs pass `promtool check config`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from blueprints import load
from blueprints.schema import MonitoringSettings, SloSettings
from services.monitoring import alert_rules, alertmanager_config, prometheus_config
from services.monitoring.rules import ALL_ALERTS

TESTS = Path(__file__).parent / "rules_test.yml"
LLM_TESTS = Path(__file__).parent / "llm_rules_test.yml"  # the LLM alerts' cases (services/monitoring/llm_rules.py)


def _run_rule_tests(promtool: str, tmp_path: Path, settings: MonitoringSettings) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alert_rules(settings), sort_keys=False))
    shutil.copy(TESTS, tmp_path / "rules_test.yml")
    shutil.copy(LLM_TESTS, tmp_path / "llm_rules_test.yml")
    return subprocess.run(
        [promtool, "test", "rules", "rules_test.yml", "llm_rules_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_alert_has_a_promtool_unit_test():
    specs = [yaml.safe_load(path.read_text()) for path in (TESTS, LLM_TESTS)]
    tested = {case["alertname"] for spec in specs for test in spec["tests"] for case in test.get("alert_rule_test", [])}
    defined = {rule["alert"] for group in alert_rules()["groups"] for rule in group["rules"] if "alert" in rule}
    assert defined == set(ALL_ALERTS) == tested


def test_promtool_unit_tests_pass_for_the_default_slos(promtool, tmp_path):
    result = _run_rule_tests(promtool, tmp_path, MonitoringSettings())
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_catch_a_changed_threshold(promtool, tmp_path):
    # With a drift threshold of 0.5 the drift case (PSI 0.35) must no longer fire: the tests notice.
    settings = MonitoringSettings(slo=SloSettings(drift_psi=0.5))
    result = _run_rule_tests(promtool, tmp_path, settings)
    assert result.returncode != 0
    assert "ModelFeatureDrift" in result.stdout + result.stderr


def test_rules_pass_promtool_check_for_every_shipped_blueprint(promtool, tmp_path):
    for name in ("foundation", "multi-tenant", "enterprise"):
        path = tmp_path / f"{name}.yml"
        path.write_text(yaml.safe_dump(alert_rules(load(name).platform.monitoring), sort_keys=False))
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def _check_config(promtool: str, tmp_path: Path, config: dict, name: str) -> subprocess.CompletedProcess:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(alert_rules(), sort_keys=False))
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, check=False)


def test_standalone_prometheus_config_passes_promtool_check_config(promtool, tmp_path):
    config = prometheus_config(
        "static",
        alertmanagers=["127.0.0.1:9093"],
        rules_dir=str(tmp_path),
        static_targets={"model-server": [{"targets": ["127.0.0.1:8081"], "labels": {"tenant": "fraud"}}]},
    )
    result = _check_config(promtool, tmp_path, config, "static")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cluster_prometheus_config_passes_promtool_check_config(promtool, tmp_path):
    config = prometheus_config("kubernetes", alertmanagers=["alertmanager:9093"], rules_dir=str(tmp_path))
    result = _check_config(promtool, tmp_path, config, "kubernetes")
    if "field kubernetes_sd_configs not found" in result.stdout + result.stderr:
        # Debian builds Prometheus without Kubernetes service discovery; upstream promtool has it, and
        # `make test-engine` checks the cluster's configuration with it (tests/engine/test_monitoring_config.py).
        pytest.skip(
            "this promtool lacks kubernetes_sd (Debian build); make test-engine checks it with upstream promtool"
        )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_passes_amtool_style_shape():
    config = alertmanager_config({"ModelFeatureDrift": "http://127.0.0.1:8090/alerts"})
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    assert all(route["receiver"] in receivers for route in config["route"]["routes"])


def test_dashboards_cover_overview_serving_quality_batch_and_training_with_tenant_variables():
    from services.monitoring import grafana_dashboards
    from services.monitoring.dashboards import KEY_PANELS, panel_queries

    boards = grafana_dashboards()
    assert set(boards) == {
        "platform-overview.json",
        "tenant-serving.json",
        "model-quality.json",
        "batch-and-training.json",
        "feature-store.json",
        "llm-serving.json",
    }
    serving = boards["tenant-serving.json"]
    assert [v["name"] for v in serving["templating"]["list"]] == ["tenant", "model"]
    titles = {title for _, title, _ in panel_queries()}
    assert set(KEY_PANELS) <= titles
    assert all("$" not in expr for _, _, expr in panel_queries())  # variables substituted for e2e


def test_every_batch_and_training_alert_has_a_panel_on_the_metric_it_reads():
    from services.monitoring import grafana_dashboards
    from services.monitoring.rules import (
        ALERT_BATCH_FAILED,
        ALERT_BATCH_LATE,
        ALERT_BATCH_REJECTS,
        ALERT_TRAINING_FAILED,
        batch_and_training_rules,
    )

    board = grafana_dashboards()["batch-and-training.json"]
    queries = " ".join(t["expr"] for panel in board["panels"] for t in panel["targets"])
    alerts = {rule["alert"]: rule["expr"] for rule in batch_and_training_rules()}
    assert set(alerts) == {ALERT_BATCH_FAILED, ALERT_BATCH_LATE, ALERT_BATCH_REJECTS, ALERT_TRAINING_FAILED}
    for alert, expr in alerts.items():
        metrics = {word for word in expr.replace("(", " ").replace(")", " ").split() if word.startswith("mlplat_")}
        assert metrics and all(metric in queries for metric in metrics), alert


def test_every_feature_store_alert_has_a_panel_on_the_metrics_it_reads():
    from services.monitoring import grafana_dashboards
    from services.monitoring.rules import ALERT_MATERIALIZATION_LATE, ALERT_STALE_FEATURES, feature_store_rules

    board = grafana_dashboards()["feature-store.json"]
    queries = " ".join(t["expr"] for panel in board["panels"] for t in panel["targets"])
    alerts = {rule["alert"]: rule["expr"] for rule in feature_store_rules()}
    assert set(alerts) == {ALERT_MATERIALIZATION_LATE, ALERT_STALE_FEATURES}
    for alert, expr in alerts.items():
        metrics = {
            word.split("{")[0]
            for word in expr.replace("(", " ").replace(")", " ").split()
            if word.startswith("mlplat_")
        }
        assert metrics and all(metric in queries for metric in metrics), alert
    # and the metric names are the ones the model server and the materialization export
    from services.monitoring import metric_names as m

    for name in (m.FEATURE_FETCH_DURATION, m.FEATURE_LOOKUPS, m.MATERIALIZATION_LAST_SUCCESS):
        assert name in queries, name


def test_every_dashboard_query_is_valid_promql(promtool, tmp_path):
    """promtool parses each query as a recording rule; a typo in any panel fails here."""
    from services.monitoring.dashboards import panel_queries

    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [{"record": f"panel:{i}", "expr": expr} for i, (_, _, expr) in enumerate(panel_queries())],
            }
        ]
    }
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_llm_alert_has_a_panel_on_the_metrics_it_reads():
    from services.monitoring import grafana_dashboards
    from services.monitoring.llm_rules import LLM_ALERTS, llm_rules

    board = grafana_dashboards()["llm-serving.json"]
    queries = " ".join(t["expr"] for panel in board["panels"] for t in panel["targets"])
    alerts = {rule["alert"]: rule["expr"] for rule in llm_rules()}
    assert set(alerts) == set(LLM_ALERTS)
    for alert, expr in alerts.items():
        metrics = {word for word in expr.replace("(", " ").replace(")", " ").split() if word.startswith("mlplat_")}
        metrics = {name.split("[")[0].split("{")[0] for name in metrics}
        assert metrics and all(metric in queries for metric in metrics), alert
