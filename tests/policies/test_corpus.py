"""The corpus, as a specification: both gates refuse every bad case for its rule, and only for it,
and pass every good case. The rule x case table is printed at the end of the test run."""

from __future__ import annotations

from collections import Counter

import kubernetes_validate
import pytest

from infra.versions import kubernetes_version
from policies.catalog import RULE_IDS, RULES
from tests.policies.conftest import verdicts
from tests.policies.corpus import CORPUS_NAMESPACE, bad_cases, cases, good_cases


def _schema_version() -> str:
    major, minor, _ = kubernetes_version().split(".")
    return f"{major}.{minor}.0"


def test_the_corpus_has_at_least_30_bad_and_10_good_cases():
    assert len(bad_cases()) >= 30
    assert len(good_cases()) >= 10
    assert sum(case.admission_rule is not None for case in bad_cases()) >= 30  # admission refuses 30 too


def test_every_bad_case_is_named_after_a_rule_and_every_rule_has_one():
    named = Counter(case.rule for case in bad_cases())
    assert set(named) <= set(RULE_IDS), set(named) - set(RULE_IDS)
    assert [rule for rule in RULE_IDS if not named[rule]] == []


def test_every_case_is_a_schema_valid_kubernetes_manifest(case):
    for document in case.documents(namespace=CORPUS_NAMESPACE):
        kubernetes_validate.validate(document, _schema_version(), strict=True)


def test_every_workload_kind_appears_in_the_corpus():
    kinds = {document["kind"] for case in cases() for document in case.documents()}
    workloads = {
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
    }
    assert workloads <= kinds


@pytest.mark.parametrize("case", bad_cases(), ids=lambda case: case.name)
def test_the_deploy_rules_refuse_a_bad_case_for_its_rule_alone(case):
    deploy, _ = verdicts(case)
    assert [(f.rule, f.level) for f in deploy] == [(case.rule, "mandatory")], deploy


@pytest.mark.parametrize("case", bad_cases(), ids=lambda case: case.name)
def test_the_admission_policies_refuse_a_bad_case_for_its_rule_alone(case):
    _, cel = verdicts(case)
    expected = [(case.admission_rule, "mandatory")] if case.admission_rule else []
    assert [(f.rule, f.level) for f in cel] == expected, cel
    assert all(f.message.startswith(f"[{f.rule}] ") for f in cel)  # the messageExpression named the rule


@pytest.mark.parametrize("case", good_cases(), ids=lambda case: case.name)
def test_both_gates_pass_a_good_case(case):
    deploy, cel = verdicts(case)
    assert deploy == []
    assert cel == []


def test_rules_admission_cannot_express_are_the_stack_rules_and_the_platforms_own_declarations():
    # personal-data-governed reads annotations only the platform writes from the blueprint (ADR 0024)
    only_at_deploy = {rule.id for rule in RULES if not rule.admission}
    assert only_at_deploy == {rule.id for rule in RULES if rule.scope == "stack"} | {"personal-data-governed"}
