"""The cluster's Prometheus configuration, checked by the promtool of the Prometheus the cluster runs.

Debian's promtool (what `make test` uses) is built without Kubernetes service discovery and refuses
`kubernetes_sd_configs`, so `make test` can check only the standalone configuration and the rules.
The toolchain builds upstream promtool at the cluster image's version; here it checks exactly what
the program puts in the `prometheus-config` and `prometheus-rules` ConfigMaps, the rule file placed
where the configuration says it is.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from infra.render import render_blueprint
from services.engine import toolchain
from tests.infra.conftest import find


@pytest.fixture(scope="module")
def promtool() -> str:
    path = toolchain.bin_dir() / "promtool"
    if not path.exists():
        pytest.fail(f"not built: {path} -> run `make toolchain`", pytrace=False)
    return str(path)


@pytest.mark.parametrize("blueprint", ["foundation", "multi-tenant", "enterprise"])
def test_the_cluster_prometheus_config_and_rules_pass_upstream_promtool(promtool, blueprint, tmp_path):
    manifests = render_blueprint(blueprint).manifests
    config = yaml.safe_load(find(manifests, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
    rules = find(manifests, "ConfigMap", "prometheus-rules")["data"]
    assert any("kubernetes_sd_configs" in job for job in config["scrape_configs"])  # what Debian's cannot read
    (tmp_path / "rules").mkdir()
    for name, text in rules.items():
        (tmp_path / "rules" / name).write_text(text)
    config["rule_files"] = [str(tmp_path / "rules" / name.rsplit("/", 1)[-1]) for name in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr and "rules found" in checked.stdout + checked.stderr
