"""Promotion rules as data: the evaluator's verdicts, rule-file errors, and the audit hash chain."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace

import pytest

from services.promotion_gate.audit import AuditError, AuditLog
from services.promotion_gate.evaluate import Facts, evaluate, passed
from services.promotion_gate.rules import DEFAULT_RULES, RuleFileError, load_rules

RULES = load_rules(DEFAULT_RULES)
GOOD = Facts(
    model="iris",
    version="4",
    author="ana",
    metrics={"accuracy": 0.95},
    tags={"owner": "ana", "training_data_digest": "sha256:ab", "code_version": "1f2e"},
    description="Iris classifier. Intended use: demo.",
    has_signature=True,
    has_input_example=True,
    artifact_bytes=3 * 2**20,
    approvals=("bo",),
    champion_version="3",
    champion_metrics={"accuracy": 0.95},
)


def verdict(facts: Facts, rule: str):
    return next(v for v in evaluate(RULES, facts) if v.rule == rule)


def test_the_shipped_rules_load_and_a_complete_version_passes_them_all():
    assert RULES.version and len(RULES.rules) == 8
    verdicts = evaluate(RULES, GOOD)
    assert passed(verdicts), [v for v in verdicts if not v.passed]


@pytest.mark.parametrize(
    ("rule", "change", "evidence"),
    [
        ("accuracy-threshold", {"metrics": {"accuracy": 0.85}}, "accuracy 0.85 < 0.9"),
        ("accuracy-vs-champion", {"metrics": {"accuracy": 0.93}}, "accuracy 0.93 < 0.94 (champion v3 0.95 - 0.01)"),
        ("required-tags", {"tags": {"owner": "ana"}}, "missing tags: training_data_digest, code_version"),
        ("signature-and-example", {"has_input_example": False}, "signature yes, input example NO"),
        ("signature-and-example", {"has_signature": False}, "signature NO"),
        ("model-card", {"description": "   "}, "no description or model card"),
        ("artifact-size", {"artifact_bytes": 60 * 2**20}, "60.00 MiB > 50 MiB"),
        ("approvals", {"approvals": ()}, "0 of 1 approvals (none)"),
        ("approvals", {"approvals": ("ana",)}, "the author 'ana' cannot approve their own model"),
        (
            "no-erased-training-data",
            {"tags": {**GOOD.tags, "platform.mlops/retrain-required": "erasure 1a2b3c: trained on an erased subject"}},
            "platform.mlops/retrain-required: erasure 1a2b3c: trained on an erased subject",
        ),
    ],
)
def test_each_rule_fails_with_its_evidence(rule, change, evidence):
    result = verdict(replace(GOOD, **change), rule)
    assert not result.passed
    assert evidence in result.evidence


def test_relative_rule_passes_when_there_is_no_champion_yet():
    result = verdict(replace(GOOD, champion_version=None, champion_metrics={}), "accuracy-vs-champion")
    assert result.passed and "no other champion" in result.evidence


def test_an_unknown_metric_is_a_rule_error_naming_file_rule_and_fix():
    with pytest.raises(
        RuleFileError,
        match=r"rules.yaml: rule 'accuracy-threshold': metric 'accuracy' is not "
        r"logged by iris version 4 \(logged: f1\); fix the metric name",
    ):
        evaluate(RULES, replace(GOOD, metrics={"f1": 0.9}))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("rules: []\nversion: 1\n", "`rules` must be a non-empty list"),
        (
            "version: 1\nrules: [{id: a, kind: metric, metric: acc, atleast: 0.9}]\n",
            "rule 'a': unknown key 'atleast'; allowed for kind metric: at_least, at_least_champion_minus, at_most, "
            "at_most_champion_plus, metric",
        ),
        ("version: 1\nrules: [{id: a, kind: metrics}]\n", "rule 'a': unknown kind 'metrics'"),
        (
            "version: 1\nrules: [{id: a, kind: metric, metric: acc}]\n",
            "give at_least or at_most (absolute), or at_least_champion_minus or at_most_champion_plus",
        ),
        ("version: 1\nrules: [{id: a, kind: tags}]\n", "rule 'a': missing 'required'"),
        ("version: 1\nrules: [{id: a, kind: description}, {id: a, kind: description}]\n", "the id is used twice"),
        ("version: 1\nrules: [{id: a, kind: artifact_size, max_mb: -1}]\n", "max_mb must be a positive number"),
        ("version: 1\nrules: [{id: a, kind: blocking_tags, tags: []}]\n", "tags must be a non-empty list of tag keys"),
        ("version: 1\nrules: [{kind: description}]\n", "rules[0]: every rule needs an `id`"),
        ("rules: [{id: a, kind: description}]\n", "`version` must be set"),
        ("version: 1\nrules: [{id: a, kind: metric, metric: acc, at_least: high}]\n", "at_least must be a number"),
        ("version: [1\n", "not valid YAML"),
    ],
)
def test_malformed_rule_files_name_the_file_the_rule_and_the_fix(tmp_path, body, message):
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(body))
    with pytest.raises(RuleFileError) as error:
        load_rules(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_audit_log_chains_entries_and_verifies(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    hashes = [log.append({"model": "iris", "version": str(v), "decision": "pass"}) for v in range(3)]
    assert log.verify() == 3
    assert [e["hash"] for e in log.entries()] == hashes
    assert log.entries()[1]["prev"] == hashes[0]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda lines: [lines[0], lines[1].replace('"fail"', '"pass"'), lines[2]], ":2: hash mismatch"),
        (lambda lines: [lines[0], lines[2]], ":2: `prev` does not match"),
        (lambda lines: [lines[1], lines[0], lines[2]], ":1: `prev` does not match"),
        (lambda lines: [lines[0], "{not json", lines[2]], ":2: not valid JSON"),
    ],
)
def test_a_tampered_audit_line_is_detected(tmp_path, tamper, message):
    log = AuditLog(tmp_path / "audit.jsonl")
    for version, decision in ((1, "pass"), (2, "fail"), (3, "pass")):
        log.append({"model": "iris", "version": str(version), "decision": decision})
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join(tamper(lines)) + "\n")
    with pytest.raises(AuditError, match=message):
        log.verify()
    assert json.loads(lines[1])["decision"] == "fail"


def test_a_rule_scoped_to_champion_does_not_hold_back_a_challenger():
    unapproved = replace(GOOD, approvals=())
    assert not verdict(replace(unapproved, alias="champion"), "approvals").passed
    challenger = verdict(replace(unapproved, alias="challenger"), "approvals")
    assert challenger.passed and challenger.evidence == "not required for @challenger (applies to @champion)"
    assert passed(evaluate(RULES, replace(unapproved, alias="challenger")))
    # every other rule still applies to a challenger
    assert not verdict(replace(GOOD, alias="challenger", metrics={"accuracy": 0.5}), "accuracy-threshold").passed


def test_rule_aliases_must_be_a_list_of_names(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nrules: [{id: a, kind: description, aliases: champion}]\n")
    with pytest.raises(RuleFileError, match="rule 'a': aliases must be a non-empty list of alias names"):
        load_rules(path)
