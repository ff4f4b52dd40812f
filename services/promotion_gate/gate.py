"""The promote flow, in order: evaluate -> record the decision on the version -> append it to the
audit log -> move the alias, and only on a pass. Recording and moving happen under the audit log's
lock, so concurrent promotions of the same model are serialised and every decision is logged.

An LLM version (tagged `platform.mlops/kind=llm`) is held to the LLM rules instead
(policies/promotion/llm-rules.yaml: perplexity against the champion, latency and cost per 1k tokens
against `limits`, its blueprint's limits for that model): the same gate, the same audit log."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.evaluate import Verdict, evaluate, passed
from services.promotion_gate.rules import DEFAULT_LLM_RULES, RuleSet, load_rules

__all__ = ["Decision", "promote", "LLM_KIND_TAG"]

LLM_KIND_TAG = "platform.mlops/kind"  # "llm" on LLM versions (services/llm/registry.py)


@dataclass(frozen=True)
class Decision:
    model: str
    version: str
    alias: str
    passed: bool
    verdicts: list[Verdict]
    rules_version: str
    dry_run: bool
    audit_hash: str | None
    moved: bool

    def table(self) -> str:
        width = max(len(v.rule) for v in self.verdicts)
        lines = [f"{'rule':<{width}}  result  evidence", f"{'-' * width}  ------  --------"]
        lines += [f"{v.rule:<{width}}  {'pass' if v.passed else 'FAIL':<6}  {v.evidence}" for v in self.verdicts]
        outcome = "PASS" if self.passed else "FAIL"
        if self.dry_run:
            action = "dry run: nothing recorded, alias not moved"
        elif self.moved:
            action = f"alias {self.alias!r} now points at version {self.version}"
        else:
            action = f"alias {self.alias!r} not moved"
        lines.append(
            f"\n{self.model} version {self.version} -> @{self.alias}: {outcome} (rules {self.rules_version}); {action}"
        )
        return "\n".join(lines)


def promote(
    mlflow_client,
    rules: RuleSet,
    audit: AuditLog,
    model: str,
    version: str,
    alias: str,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    limits: dict[str, float] | None = None,
    llm_rules: RuleSet | None = None,
) -> Decision:
    facts = registry.gather_facts(mlflow_client, model, version, alias)
    if facts.tags.get(LLM_KIND_TAG) == "llm":
        rules = llm_rules or load_rules(DEFAULT_LLM_RULES)
        facts = replace(facts, limits=dict(limits or {}))
    verdicts = evaluate(rules, facts)
    ok = passed(verdicts)
    if dry_run:
        return Decision(model, version, alias, ok, verdicts, rules.version, True, None, False)
    with audit.locked():
        audit_hash = audit.append(
            {
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": actor or getpass.getuser(),
                "model": model,
                "version": str(version),
                "alias": alias,
                "decision": "pass" if ok else "fail",
                "rules_version": rules.version,
                "results": [{"rule": v.rule, "passed": v.passed, "evidence": v.evidence} for v in verdicts],
            }
        )
        registry.record_decision(
            mlflow_client, model, str(version), alias, "pass" if ok else "fail", rules.version, audit_hash
        )
        if ok:
            registry.move_alias(mlflow_client, model, alias, str(version))
    return Decision(model, str(version), alias, ok, verdicts, rules.version, False, audit_hash, ok)


def default_audit_path() -> Path:
    return Path(".mlplat") / "audit" / "promotions.jsonl"
