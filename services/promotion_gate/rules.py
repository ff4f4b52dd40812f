"""The promotion rule file (policies/promotion/rules.yaml): loading and validation.

Errors name the file, the rule and the fix, e.g.
    policies/promotion/rules.yaml: rule 'accuracy-threshold': unknown key 'atleast'; allowed: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Rule", "RuleSet", "RuleFileError", "load_rules", "DEFAULT_RULES", "DEFAULT_LLM_RULES", "KINDS"]

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "policies" / "promotion" / "rules.yaml"
# LLM versions (tagged platform.mlops/kind=llm) are held to these instead (docs/llm.md)
DEFAULT_LLM_RULES = DEFAULT_RULES.with_name("llm-rules.yaml")
_BOUNDS = ("at_least", "at_least_champion_minus", "at_most", "at_most_champion_plus")

# kind -> (required keys, optional keys)
KINDS: dict[str, tuple[set[str], set[str]]] = {
    "metric": ({"metric"}, set(_BOUNDS)),
    "limit": ({"metric", "limit"}, set()),  # metric <= the blueprint's limit of that name (LLMs)
    "tags": ({"required"}, set()),
    "signature": (set(), {"require_input_example"}),
    "description": (set(), set()),
    "artifact_size": ({"max_mb"}, set()),
    "approvals": ({"required"}, set()),
    "blocking_tags": ({"tags"}, set()),
}


class RuleFileError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    params: dict[str, Any]
    # The aliases the rule applies to; empty means every alias. `approvals` applies to `champion`
    # only in the shipped rules: a challenger takes a bounded share of traffic and is measured
    # against the champion, so continuous training may put one there without a person (ADR 0013).
    aliases: tuple[str, ...] = ()

    def applies_to(self, alias: str | None) -> bool:
        return not self.aliases or alias is None or alias in self.aliases


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    source: str


def load_rules(path: Path | str = DEFAULT_RULES) -> RuleSet:
    path = Path(path)
    source = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuleFileError(f"{source}: no such rule file") from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(document, dict) or set(document) - {"version", "rules"} or "rules" not in document:
        raise RuleFileError(f"{source}: expected a mapping with `version` and `rules` (a list of rules)")
    version = document.get("version")
    if not isinstance(version, str | int | float) or not str(version).strip():
        raise RuleFileError(f"{source}: `version` must be set (it is recorded with every decision)")
    if not isinstance(document["rules"], list) or not document["rules"]:
        raise RuleFileError(f"{source}: `rules` must be a non-empty list")
    rules, seen = [], set()
    for index, raw in enumerate(document["rules"]):
        rules.append(_rule(source, index, raw, seen))
    return RuleSet(version=str(version), rules=tuple(rules), source=source)


def _rule(source: str, index: int, raw: Any, seen: set[str]) -> Rule:
    where = f"{source}: rules[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise RuleFileError(f"{where}: every rule needs an `id` (a short kebab-case name)")
    rule_id = raw["id"]
    where = f"{source}: rule {rule_id!r}"
    if rule_id in seen:
        raise RuleFileError(f"{where}: the id is used twice; give each rule its own id")
    seen.add(rule_id)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RuleFileError(f"{where}: unknown kind {kind!r}; use one of {', '.join(sorted(KINDS))}")
    required, optional = KINDS[kind]
    params = {k: v for k, v in raw.items() if k not in ("id", "kind", "aliases")}
    unknown = set(params) - required - optional
    if unknown:
        raise RuleFileError(
            f"{where}: unknown key {sorted(unknown)[0]!r}; allowed for kind {kind}: "
            f"{', '.join(sorted(required | optional)) or 'none'} (and `aliases`, for any kind)"
        )
    aliases = raw.get("aliases", [])
    if "aliases" in raw and (
        not isinstance(aliases, list) or not aliases or not all(isinstance(a, str) for a in aliases)
    ):
        raise RuleFileError(f"{where}: aliases must be a non-empty list of alias names (e.g. [champion])")
    missing = required - set(params)
    if missing:
        raise RuleFileError(f"{where}: missing {sorted(missing)[0]!r} (required for kind {kind})")
    if kind == "metric":
        if not (set(_BOUNDS) & set(params)):
            raise RuleFileError(
                f"{where}: give at_least or at_most (absolute), or at_least_champion_minus or "
                "at_most_champion_plus (relative to the champion)"
            )
        for key in _BOUNDS:
            if key in params and (isinstance(params[key], bool) or not isinstance(params[key], int | float)):
                raise RuleFileError(f"{where}: {key} must be a number, got {params[key]!r}")
        if not isinstance(params["metric"], str) or not params["metric"]:
            raise RuleFileError(f"{where}: metric must be the name of a logged metric")
    if kind == "limit" and not all(isinstance(params[k], str) and params[k] for k in ("metric", "limit")):
        raise RuleFileError(f"{where}: metric and limit must name a logged metric and a blueprint limit")
    if kind == "tags" and (
        not isinstance(params["required"], list) or not all(isinstance(t, str) for t in params["required"])
    ):
        raise RuleFileError(f"{where}: required must be a list of tag keys")
    if kind == "artifact_size" and (
        isinstance(params["max_mb"], bool) or not isinstance(params["max_mb"], int | float) or params["max_mb"] <= 0
    ):
        raise RuleFileError(f"{where}: max_mb must be a positive number")
    tags = params.get("tags")
    if kind == "blocking_tags" and not (isinstance(tags, list) and tags and all(isinstance(t, str) for t in tags)):
        raise RuleFileError(f"{where}: tags must be a non-empty list of tag keys")
    if kind == "approvals" and (
        isinstance(params["required"], bool) or not isinstance(params["required"], int) or params["required"] < 0
    ):
        raise RuleFileError(f"{where}: required must be a whole number of approvals (0 or more)")
    return Rule(rule_id, kind, params, tuple(aliases))
