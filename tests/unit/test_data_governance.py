"""Data governance in the blueprint (ADR 0024): malformed classifications are errors naming the field and
the fix, and nothing else about them is (a readable but non-compliant declaration is left to the report).
Also the catalogue of controls against the Rego that implements them, and the feature-data volume's
declaration the deploy gate reads."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from blueprints import BlueprintError, load, load_text
from blueprints.loader import BLUEPRINT_DIR
from blueprints.naming import parse_personal_data, personal_data_annotation
from policies.compliance.controls import CHECKS, CONTROLS
from services.compliance.opa import POLICY_DIR, policy_files

ENTERPRISE = yaml.safe_load((BLUEPRINT_DIR / "enterprise.yaml").read_text())
VIEW = "tenants.0.features.featureViews.0"


def _errors(path: str, value) -> list[str]:
    """Load enterprise with `path` (dots; ints index lists) set to `value` (or deleted, for _DELETE)."""
    data = copy.deepcopy(ENTERPRISE)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = data
    for part in parents:
        node = node[part]
    node[last] = value
    with pytest.raises(BlueprintError) as caught:
        load_text(yaml.safe_dump(data), source="blueprints/x.yaml")
    return str(caught.value).splitlines()


PII = f"{VIEW.replace('.0', '[0]')}.classification.pii"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (f"{VIEW}.classification.pii", "yes", f"{PII}: 'yes': input should be a valid boolean"),
        (f"{VIEW}.classification.retention", "forever", "'forever' is not a retention period: write a positive"),
        (f"{VIEW}.classification.retention", "0d", "'0d' is not a retention period"),
        (f"{VIEW}.classification.purpose", "Fraud Prevention", "'Fraud Prevention' is not a purpose name"),
        (f"{VIEW}.classification", {"specialCategory": True}, "which is personal data: set pii: true as well"),
        (f"{VIEW}.classification.sensitive", True, "allowed keys here: pii, specialCategory, purpose, retention"),
        ("tenants.0.features.entities.0.subject", "true", "entities[0].subject: 'true': input should be a valid bool"),
        ("tenants.0.data.classification", "secret", "'secret' is not allowed; input should be 'public', 'internal'"),
        ("tenants.0.data.residency", "Europe", "'Europe' is not a residency label: use a lowercase region code"),
        ("tenants.0.data.purposes", ["fraud-prevention"] * 2, "purposes[1]: 'fraud-prevention' is listed twice"),
        ("tenants.2.data.classification", "confidential", "with phi: true; protected health information is restricted"),
        ("platform.compliance.residency", "EU", "platform.compliance.residency: 'EU' is not a residency label"),
        ("platform.compliance.acceptedGaps.0.control", "iso", "'iso' is not a control: use one of soc2-cc6.1, "),
        ("platform.compliance.acceptedGaps.0.check", "tls", "'tls' is not a check of control soc2-cc7.2; its checks:"),
        (
            "platform.compliance.acceptedGaps.0.reason",
            "because",
            "'because': string should have at least 20",
        ),
        ("platform.compliance.acceptedGaps.0.until", "soon", "acceptedGaps[0].until: 'soon': input should be a valid"),
    ],
)
def test_a_malformed_declaration_is_an_error_naming_the_field_and_the_fix(path, value, message):
    errors = _errors(path, value)
    assert any(message in line for line in errors), errors
    assert all(line.startswith("blueprints/x.yaml: ") for line in errors)


def test_a_gap_accepted_twice_is_an_error():
    data = copy.deepcopy(ENTERPRISE)
    gaps = data["platform"]["compliance"]["acceptedGaps"]
    gaps.append(dict(gaps[0]))
    with pytest.raises(BlueprintError, match="check 'alerts-reach-a-person' of soc2-cc7.2 is accepted twice"):
        load_text(yaml.safe_dump(data))


def test_a_non_compliant_but_readable_declaration_loads_for_the_report_to_judge():
    data = copy.deepcopy(ENTERPRISE)
    view = data["tenants"][0]["features"]["featureViews"][0]
    view["classification"] = {"pii": True}  # no purpose, no retention
    data["tenants"][0]["features"]["entities"][0]["subject"] = False  # no erasure path
    del data["tenants"][0]["data"]  # no purposes, no residency
    blueprint = load_text(yaml.safe_dump(data))
    assert blueprint.tenants[0].features.feature_views[0].classification.retention is None


def test_the_enterprise_blueprint_classifies_every_tenant_and_its_personal_data():
    blueprint = load("enterprise")
    assert {t.name: t.data.classification for t in blueprint.tenants} == {
        "payments": "confidential",
        "marketing": "internal",
        "clinical": "restricted",
    }
    view = blueprint.tenant("payments").features.view("customer_activity")
    assert (view.classification.pii, view.classification.retention) == (True, "400d")
    assert blueprint.tenant("payments").features.entity("customer").subject
    assert {(g.control, g.check) for g in blueprint.platform.compliance.accepted_gaps} == {
        ("soc2-cc7.2", "alerts-reach-a-person"),
        ("hipaa-164.312-e", "encrypted-in-transit"),
        ("gdpr-art32", "encrypted-in-transit"),
        ("gdpr-art17", "erasure-path"),
    }


def test_the_volume_declaration_round_trips_and_leaves_out_what_the_blueprint_leaves_out():
    key, value = personal_data_annotation("customer_activity", purpose=None, retention="400d", subjects=["customer"])
    assert key == "personal-data.platform.mlops/customer_activity"
    assert parse_personal_data(value) == {"retention": "400d", "subject": "customer"}


def test_every_control_of_the_catalogue_is_one_rego_package_with_its_own_tests():
    files = {path.stem for path in policy_files()}
    assert files == {c.package for c in CONTROLS} | {"lib", "report"}
    for control in CONTROLS:
        text = (POLICY_DIR / f"{control.package}.rego").read_text()
        assert f"package compliance.controls.{control.package}\n" in text
        assert f'"id": "{control.id}"' in text and f'"framework": "{control.framework}"' in text
        assert (POLICY_DIR / f"{control.package}_test.rego").is_file(), control.package


def test_the_catalogue_lists_exactly_the_checks_each_control_reports():
    for control in CONTROLS:
        text = (POLICY_DIR / f"{control.package}.rego").read_text()
        assert set(re.findall(r'"check": "([a-z0-9-]+)"', text)) == set(CHECKS[control.id]), control.id
