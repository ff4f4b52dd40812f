"""ComplianceCheck and the personal-data declaration, as the cluster gets them (ADR 0024): the enterprise
blueprint declares platform.compliance, the other two do not; payments' customer features are personal
data, and the deploy gate refuses such a volume without a retention period or an erasure path."""

from __future__ import annotations

import copy
import tempfile
from collections import Counter
from pathlib import Path

import yaml

from blueprints import load
from blueprints.loader import BLUEPRINT_DIR
from blueprints.schema import PolicySettings
from infra import images
from infra.components.compliance_check import READER_RULES, opa_url
from infra.render import render_blueprint
from policies.deploy.rules import personal_data_governed
from policies.kube import from_manifest
from services.cli import build_parser
from services.compliance.opa import policy_files
from tests.infra.conftest import find, rendered

SYSTEM = "mlops-system"


def test_only_a_blueprint_declaring_compliance_gets_the_scheduled_check():
    for name, expected in (("foundation", 0), ("multi-tenant", 0), ("enterprise", 1)):
        types = Counter(t for t, _ in rendered(name).others)
        assert types["mlops-platform:platform:ComplianceCheck"] == expected, name


def test_the_opa_server_runs_the_pinned_image_with_exactly_the_controls_the_report_evaluates():
    manifests = rendered("enterprise").manifests
    policies = find(manifests, "ConfigMap", "compliance-policies", SYSTEM)
    assert policies["data"] == {p.name: p.read_text() for p in policy_files()}
    assert not any(name.endswith("_test.rego") for name in policies["data"])
    (container,) = find(manifests, "Deployment", "opa", SYSTEM)["spec"]["template"]["spec"]["containers"]
    assert container["image"] == images.OPA and container["args"][:2] == ["run", "--server"]
    assert "--disable-telemetry" in container["args"]


def test_the_cronjob_runs_the_report_command_live_against_the_opa_server_and_pushes_the_status():
    cronjob = find(rendered("enterprise").manifests, "CronJob", "compliance-check", SYSTEM)
    assert cronjob["spec"]["schedule"] == load("enterprise").platform.compliance.schedule
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "compliance-check" and pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])  # the real CLI accepts the command
    assert (args.command, args.action, args.framework, args.live) == ("compliance", "report", "all", True)
    assert args.opa_url == opa_url() and args.push_gateway.startswith("http://pushgateway.")
    assert args.registry.startswith("http://mlflow.") and args.schedule_seconds == 3600


def test_the_check_may_list_what_the_controls_read_and_read_no_secret():
    role = find(rendered("enterprise").manifests, "ClusterRole", "mlops-compliance-check")
    assert role["rules"] == READER_RULES
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs == {"list", "get"}
    assert not any("secrets" in rule["resources"] for rule in role["rules"])
    (configmaps,) = [rule for rule in role["rules"] if "configmaps" in rule["resources"]]
    assert configmaps["verbs"] == ["get"] and configmaps["resourceNames"]  # named ConfigMaps only


def test_the_feature_data_volume_declares_each_personal_view():
    volume = find(rendered("enterprise").manifests, "PersistentVolumeClaim", "feature-data", "payments")
    assert volume["metadata"]["annotations"] == {
        "personal-data.platform.mlops/customer_activity": "purpose=fraud-prevention;retention=400d;subject=customer",
        "pulumi.com/skipAwait": "true",  # every claim (infra/k8s.claim_metadata)
    }
    recsys = find(rendered("multi-tenant").manifests, "PersistentVolumeClaim", "feature-data", "recsys")
    assert not any(  # flower measurements are nobody's personal data
        key.startswith("personal-data.") for key in recsys["metadata"]["annotations"]
    )


def _render_variant(change) -> list[dict]:
    spec = yaml.safe_load((BLUEPRINT_DIR / "enterprise.yaml").read_text())
    change(spec["tenants"][0]["features"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "enterprise-variant.yaml"
        path.write_text(yaml.safe_dump(spec))
        return render_blueprint(path).manifests


def test_the_deploy_gate_refuses_personal_data_without_retention_or_erasure_path():
    def worst(features):
        del features["featureViews"][0]["classification"]["retention"]
        features["entities"][0]["subject"] = False

    volume = find(_render_variant(worst), "PersistentVolumeClaim", "feature-data", "payments")
    problems = personal_data_governed(from_manifest(copy.deepcopy(volume)), PolicySettings())
    assert [p.split(" (")[0] for p in problems] == [
        "holds personal data of feature view 'customer_activity' with no retention period",
        "holds personal data of feature view 'customer_activity' with no erasure path",
    ]
    shipped = find(rendered("enterprise").manifests, "PersistentVolumeClaim", "feature-data", "payments")
    assert personal_data_governed(from_manifest(shipped), PolicySettings()) == []
