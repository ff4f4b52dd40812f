"""Shared verdicts for the corpus tests, and the rule x case table printed at the end of the run."""

from __future__ import annotations

import pytest

from blueprints.schema import PolicySettings
from policies.admission.engine import check as admission_check
from policies.catalog import RULE_IDS
from policies.deploy.check import check as deploy_check
from policies.findings import Finding
from policies.kube import from_manifest
from tests.policies.corpus import CORPUS_NAMESPACE, Case, cases

SETTINGS = PolicySettings()  # the schema's defaults: every rule mandatory, the default registries

# case name -> (findings of the deploy rules, findings of the admission CEL), filled as tests run
VERDICTS: dict[str, tuple[list[Finding], list[Finding]]] = {}


def verdicts(case: Case) -> tuple[list[Finding], list[Finding]]:
    """Both engines' findings on a case, its objects placed in a namespace as the cluster test does."""
    if case.name not in VERDICTS:
        objects = [
            from_manifest(document, f"{case.name}#{number}")
            for number, document in enumerate(case.documents(namespace=CORPUS_NAMESPACE), start=1)
        ]
        VERDICTS[case.name] = (deploy_check(objects, SETTINGS), admission_check(objects, SETTINGS))
    return VERDICTS[case.name]


@pytest.fixture(params=cases(), ids=lambda case: case.name)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


def rule_by_case_table() -> str:
    """Rows: cases; columns: rules (numbered, legend below). D = the deploy rules refuse it,
    C = the admission CEL refuses it, * = the rule the case is named after."""
    rows = []
    for case in cases():
        if case.name not in VERDICTS:
            continue
        deploy, cel = VERDICTS[case.name]
        refused_by = {"D": {f.rule for f in deploy}, "C": {f.rule for f in cel}}
        cells = []
        for rule in RULE_IDS:
            mark = "".join(gate for gate, rules in refused_by.items() if rule in rules)
            mark += "*" if rule == case.rule else ""
            cells.append(f"{mark or '.':>4}")
        rows.append(f"{case.name:<62}" + "".join(cells))
    if not rows:
        return ""
    header = f"{'case':<62}" + "".join(f"{number:>4}" for number in range(1, len(RULE_IDS) + 1))
    legend = [f"{number:>4} {rule}" for number, rule in enumerate(RULE_IDS, start=1)]
    key = "D: refused by the deploy rules   C: refused by the admission CEL   *: the rule the case is named after"
    return "\n".join([header, *rows, "", key, *legend])


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 (pytest's hook signature)
    text = rule_by_case_table()
    if text:
        terminalreporter.section("policy corpus: rule x case")
        terminalreporter.write_line(text)
