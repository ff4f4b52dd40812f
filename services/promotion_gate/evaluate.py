"""Evaluate promotion rules against the facts of a model version: a pure function, no MLflow.

`Facts` is everything the rules may look at, gathered by registry.py; `evaluate` returns one
verdict per rule with the evidence a reviewer needs ("accuracy 0.93 >= 0.92 (champion v3 0.93 - 0.01)").
A rule that names a metric the run never logged is a configuration error, not a failed check: it
raises, naming the rule file, the rule and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.promotion_gate.rules import Rule, RuleFileError, RuleSet

__all__ = ["Facts", "Verdict", "evaluate", "passed"]


@dataclass(frozen=True)
class Facts:
    model: str
    version: str
    author: str
    metrics: dict[str, float]
    tags: dict[str, str]
    description: str
    has_signature: bool
    has_input_example: bool
    artifact_bytes: int
    approvals: tuple[str, ...] = ()
    champion_version: str | None = None
    champion_metrics: dict[str, float] = field(default_factory=dict)
    alias: str | None = None  # the alias the version is evaluated for (rules may apply to some only)
    limits: dict[str, float] = field(default_factory=dict)  # an LLM's limits from the blueprint


@dataclass(frozen=True)
class Verdict:
    rule: str
    passed: bool
    evidence: str


def passed(verdicts: list[Verdict]) -> bool:
    return all(v.passed for v in verdicts)


def evaluate(rules: RuleSet, facts: Facts) -> list[Verdict]:
    return [
        _check(rules, rule, facts)
        if rule.applies_to(facts.alias)
        else Verdict(rule.id, True, f"not required for @{facts.alias} (applies to @{', @'.join(rule.aliases)})")
        for rule in rules.rules
    ]


_BOUND_KEYS = ("at_least", "at_most", "at_least_champion_minus", "at_most_champion_plus")


def _metric(rules: RuleSet, rule: Rule, facts: Facts, name: str) -> float:
    if name not in facts.metrics:
        logged = ", ".join(sorted(facts.metrics)) or "none"
        raise RuleFileError(
            f"{rules.source}: rule {rule.id!r}: metric {name!r} is not logged by "
            f"{facts.model} version {facts.version} (logged: {logged}); fix the metric "
            "name in the rule or log it when training"
        )
    return facts.metrics[name]


def _bound(facts: Facts, p: dict, name: str, value: float, key: str) -> tuple[bool, str]:
    """One bound of a metric rule: absolute (at_least, at_most) or against the champion."""
    if key in ("at_least", "at_most"):
        ok = value >= p[key] if key == "at_least" else value <= p[key]
        sign = (">=" if ok else "<") if key == "at_least" else ("<=" if ok else ">")
        return ok, f"{name} {value:.4g} {sign} {p[key]:.4g}"
    if facts.champion_version is None or facts.champion_version == facts.version:
        return True, "no other champion to compare with"
    if name not in facts.champion_metrics:
        return True, f"champion v{facts.champion_version} has no {name} to compare with"
    champion = facts.champion_metrics[name]
    if key == "at_least_champion_minus":
        bar = champion - p[key]
        ok, sign, op = value >= bar, (">=" if value >= bar else "<"), "-"
    else:
        bar = champion + p[key]
        ok, sign, op = value <= bar, ("<=" if value <= bar else ">"), "+"
    where = f"champion v{facts.champion_version} {champion:.4g} {op} {p[key]:g}"
    return ok, f"{name} {value:.4g} {sign} {bar:.4g} ({where})"


def _check(rules: RuleSet, rule: Rule, facts: Facts) -> Verdict:
    p = rule.params
    if rule.kind == "metric":
        value = _metric(rules, rule, facts, p["metric"])
        checks = [_bound(facts, p, p["metric"], value, key) for key in _BOUND_KEYS if key in p]
        return Verdict(rule.id, all(ok for ok, _ in checks), "; ".join(text for _, text in checks))
    if rule.kind == "limit":
        value = _metric(rules, rule, facts, p["metric"])
        if p["limit"] not in facts.limits:
            raise RuleFileError(
                f"{rules.source}: rule {rule.id!r}: no limit {p['limit']!r} for {facts.model}: promote LLMs with "
                "their blueprint (`mlplat promote ... --blueprint NAME`), whose tenants[].llm.models[].limits "
                "set it"
            )
        limit = facts.limits[p["limit"]]
        ok = value <= limit
        return Verdict(rule.id, ok, f"{p['metric']} {value:.4g} {'<=' if ok else '>'} {limit:.4g} ({p['limit']})")
    if rule.kind == "tags":
        missing = [t for t in p["required"] if not facts.tags.get(t, "").strip()]
        return Verdict(
            rule.id,
            not missing,
            f"missing tags: {', '.join(missing)}" if missing else f"present: {', '.join(p['required'])}",
        )
    if rule.kind == "signature":
        need_example = bool(p.get("require_input_example", False))
        ok = facts.has_signature and (facts.has_input_example or not need_example)
        parts = [f"signature {'yes' if facts.has_signature else 'NO'}"]
        if need_example:
            parts.append(f"input example {'yes' if facts.has_input_example else 'NO'}")
        return Verdict(rule.id, ok, ", ".join(parts))
    if rule.kind == "description":
        text = facts.description.strip()
        return Verdict(rule.id, bool(text), f"{len(text)} characters" if text else "no description or model card")
    if rule.kind == "artifact_size":
        size_mb = facts.artifact_bytes / 2**20
        ok = size_mb <= p["max_mb"]
        return Verdict(rule.id, ok, f"{size_mb:.2f} MiB {'<=' if ok else '>'} {p['max_mb']:g} MiB")
    if rule.kind == "approvals":
        valid = sorted({a for a in facts.approvals if a and a != facts.author})
        self_approved = facts.author in facts.approvals
        ok = len(valid) >= p["required"]
        evidence = f"{len(valid)} of {p['required']} approvals ({', '.join(valid) or 'none'})"
        if self_approved:
            evidence += f"; the author {facts.author!r} cannot approve their own model"
        return Verdict(rule.id, ok, evidence)
    if rule.kind == "blocking_tags":  # a tag's value is the reason, e.g. the erasure that set it
        found = [f"{tag}: {facts.tags[tag]}" for tag in p["tags"] if facts.tags.get(tag, "").strip()]
        return Verdict(rule.id, not found, "; ".join(found) if found else f"none of {', '.join(p['tags'])}")
    raise AssertionError(f"unhandled rule kind {rule.kind}")  # rules.py rejects unknown kinds
