"""The policy case corpus: which manifest must be refused, by which rule, and which must pass.

    tests/policies/cases/bad/<rule id>--<what>.yaml    exactly one violation, of that rule
    tests/policies/cases/good/<what>.yaml              no violation at all

Every case is a plain, complete Kubernetes manifest (one or more documents), schema-valid for
the pinned Kubernetes version, so the same files can be applied to a real API server:

    for case in bad_cases():
        documents = case.documents(namespace="policy-test")   # a namespace labelled platform.mlops/tenant
        # kubectl apply --dry-run=server -f ...; expect a denial iff case.admission_rule is not None,
        # and rule_of_denial(stderr) == case.admission_rule

Cases without a namespace go wherever they are applied; the tenant-namespace cases carry their
own Namespace (`team-a`), which `documents(namespace=...)` renames together with every object in
it. Apply them into a namespace with the tenant label only: one that also enforces Pod Security
`restricted` would refuse some bad Pods itself, before the admission policy is asked.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blueprints.naming import LABEL_TENANT
from policies.admission.policies import rule_of_denial
from policies.catalog import RULES

__all__ = ["CASES_DIR", "CORPUS_NAMESPACE", "Case", "cases", "bad_cases", "good_cases", "rule_of_denial"]

CASES_DIR = Path(__file__).resolve().parent / "cases"
CORPUS_NAMESPACE = "team-a"  # the namespace the tenant-namespace cases declare
_ADMISSION = {rule.id: rule.admission for rule in RULES}


@dataclass(frozen=True)
class Case:
    path: Path
    rule: str | None  # the one rule a bad case violates; None for a good case

    @property
    def name(self) -> str:
        """`bad/no-privileged--pod`: the folder and the file name without .yaml."""
        return f"{self.path.parent.name}/{self.path.stem}"

    @property
    def admission_rule(self) -> str | None:
        """The rule an API server running the platform's admission policies denies this case by.

        None for good cases, and for bad cases of the rules that admission cannot express (they
        are admitted: only the deploy gate catches them).
        """
        return self.rule if self.rule is not None and _ADMISSION[self.rule] else None

    def documents(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The case's documents; with `namespace`, every object is placed in it (and a Namespace
        document renamed to it, keeping its tenant label consistent)."""
        documents = [d for d in yaml.safe_load_all(self.path.read_text(encoding="utf-8")) if d is not None]
        if namespace is None:
            return documents
        placed = copy.deepcopy(documents)
        for document in placed:
            metadata = document.setdefault("metadata", {})
            if document["kind"] == "Namespace":
                metadata["name"] = namespace
                if LABEL_TENANT in metadata.get("labels", {}):
                    metadata["labels"][LABEL_TENANT] = namespace
            else:
                metadata["namespace"] = namespace
        return placed


def cases() -> list[Case]:
    found = [Case(p, p.stem.split("--", 1)[0]) for p in sorted((CASES_DIR / "bad").glob("*.yaml"))]
    return found + [Case(p, None) for p in sorted((CASES_DIR / "good").glob("*.yaml"))]


def bad_cases() -> list[Case]:
    return [case for case in cases() if case.rule is not None]


def good_cases() -> list[Case]:
    return [case for case in cases() if case.rule is None]
