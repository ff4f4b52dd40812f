"""The compliance report as people and programs read it: Markdown for an auditor, JSON for a pipeline.

OPA returns every control of the framework with its status, findings (the gap and its fix), evidence
(which object, which rule, which audit entry) and what could not be verified; this module only orders
and prints it, in the catalogue's order (policies/compliance/controls.py), so two runs over the same
state give byte-identical files.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from policies.compliance.controls import CONTROL_IDS

__all__ = ["STATUSES", "ordered", "counts", "failed", "to_json", "to_markdown", "summary_table"]

STATUSES = ("pass", "accepted", "unverified", "fail", "not-applicable")
_FRAMEWORK_NAMES = {"soc2": "SOC 2", "hipaa": "HIPAA", "gdpr": "GDPR"}
_SOURCES = {
    "rendered": "the manifests the Pulumi program renders (no cluster)",
    "files": "Kubernetes manifests read from files",
    "live": "the live cluster",
}


def _sorted_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def ordered(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The controls in catalogue order, each list inside sorted."""
    controls = sorted(result["controls"], key=lambda c: CONTROL_IDS.index(c["control"]["id"]))
    return [
        {**c, **{key: _sorted_items(c[key]) for key in ("findings", "evidence", "unverified", "record")}}
        for c in controls
    ]


def counts(result: dict[str, Any]) -> dict[str, int]:
    found = Counter(c["status"] for c in result["controls"])
    return {status: found.get(status, 0) for status in STATUSES}


def failed(result: dict[str, Any]) -> bool:
    return any(c["status"] == "fail" for c in result["controls"])


def to_json(result: dict[str, Any]) -> str:
    return json.dumps({**result, "controls": ordered(result), "counts": counts(result)}, indent=2, sort_keys=True)


def _name(control: dict[str, Any]) -> str:
    return f"{_FRAMEWORK_NAMES[control['framework']]} {control['reference']} {control['title']}"


def summary_table(result: dict[str, Any]) -> str:
    """One line per control, for the terminal."""
    rows = [(_name(c["control"]), c["status"], str(len(c["findings"]))) for c in ordered(result)]
    width = max(len(row[0]) for row in rows)
    lines = [f"{'control':<{width}}  {'status':<14}  findings"]
    lines += [f"{name:<{width}}  {status:<14}  {findings}" for name, status, findings in rows]
    return "\n".join(lines)


def to_markdown(result: dict[str, Any], *, inputs: dict[str, str]) -> str:
    """The report. `inputs` says where each kind of evidence came from (or why it was not read)."""
    frameworks = (
        " + ".join(_FRAMEWORK_NAMES.values()) if result["framework"] == "all" else _FRAMEWORK_NAMES[result["framework"]]
    )
    total = counts(result)
    lines = [
        f"# Compliance report: {result['blueprint']}, {frameworks}",
        "",
        f"Generated {result['generated']} by `mlplat compliance report` (policies/compliance/, ADR 0024).",
        "",
        f"- objects: {_SOURCES.get(result['source'], result['source'])}",
        *(f"- {kind}: {where}" for kind, where in inputs.items()),
        "",
        ", ".join(f"{n} {status}" for status, n in total.items() if n),
        "",
        "| control | status | gaps | evidence |",
        "|---|---|---|---|",
    ]
    for c in ordered(result):
        anchor = c["control"]["id"].replace(".", "")
        lines.append(
            f"| [{_name(c['control'])}](#{anchor}) | **{c['status']}** | {len(c['findings'])} | {len(c['evidence'])} |"
        )
    for c in ordered(result):
        lines += ["", *_control_section(c, today=result["generated"][:10])]
    return "\n".join(lines) + "\n"


def _control_section(c: dict[str, Any], *, today: str) -> list[str]:
    anchor = c["control"]["id"].replace(".", "")
    lines = [f'<a id="{anchor}"></a>', f"## {_name(c['control'])}: {c['status']}", ""]
    if c["status"] == "not-applicable":
        return [*lines, f"Nothing in scope: the control covers {c['scope']}, and this blueprint has none."]
    for gap in c["acceptances"]:
        if any(f["check"] == gap["check"] for f in c["findings"]):
            state = "accepted" if gap["until"] >= today else "**acceptance ended**"
            lines += [f"`{gap['check']}` {state} by {gap['owner']} until {gap['until']}: {gap['reason']}", ""]
    if c["findings"]:
        lines += ["| gap | where | fix |", "|---|---|---|"]
        lines += [f"| {_cell(f['gap'])} | {_cell(f['object'])} | {_cell(f['fix'])} |" for f in c["findings"]]
        lines.append("")
    if c["unverified"]:
        lines += ["Not verified:", ""]
        lines += [f"- {u['missing']} (`{u['check']}`): {u['fix']}" for u in c["unverified"]]
        lines.append("")
    if c["record"]:
        lines += _record(c["record"])
    lines += ["Evidence:", ""]
    lines += [f"- `{e['check']}` {e['object']}: {e['detail']}" for e in c["evidence"]] or ["- none"]
    return lines


def _record(record: list[dict[str, Any]]) -> list[str]:
    """The GDPR Art. 30 record of processing, one row per personal feature view."""
    lines = [
        "Record of processing:",
        "",
        "| tenant | activity | purpose | personal data | subjects | recipients | kept | residency |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in record:
        data = ", ".join(r["data"]) + (" (special category)" if r["specialCategory"] else "")
        cells = [r["tenant"], r["activity"], r["purpose"], data, ", ".join(r["subjects"]),
                 ", ".join(r["recipients"]), r["retention"], r["residency"]]  # fmt: skip
        lines.append("| " + " | ".join(_cell(cell or "-") for cell in cells) + " |")
    return [*lines, ""]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
