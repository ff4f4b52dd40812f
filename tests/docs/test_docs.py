"""The docs are checked like code: every path and make target they mention exists, every mermaid
block parses structurally, and every ADR has all its sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *ROOT.glob("docs/**/*.md"),
        *ROOT.glob("blueprints/*.md"),
        *ROOT.glob("benchmarks/*.md"),
    ]
)
DOCS = [d for d in DOCS if d.exists()]
ADRS = sorted(p for p in (ROOT / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
ADR_SECTIONS = ("## Context", "## Options considered", "## Decision", "## Consequences", "## Revisit when")
TOP_LEVEL = ("blueprints/", "infra/", "services/", "policies/", "tests/", "docs/", "benchmarks/", ".github/", ".ci/")
MERMAID_TYPES = (
    "flowchart",
    "graph",
    "sequenceDiagram",
    "stateDiagram-v2",
    "stateDiagram",
    "classDiagram",
    "erDiagram",
    "gantt",
    "pie",
    "journey",
)


def _relative(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def mentioned_paths(text: str) -> set[str]:
    """Repository paths in links and code spans: `infra/platform.py`, [x](../infra/k8s.py)."""
    found = set()
    for match in re.finditer(r"\]\(([^)#\s]+)", text):
        target = match.group(1)
        if not re.match(r"[a-z]+://", target) and not target.startswith("mailto:"):
            found.add(target)
    for match in re.finditer(r"`([^`\s]+)`", text):
        token = match.group(1)
        if token.startswith(TOP_LEVEL) or re.fullmatch(r"[\w.-]+\.(py|yaml|yml|md|toml|sh)", token) and "/" in token:
            found.add(token)
    return {p.rstrip(".,:;") for p in found if "<" not in p and "*" not in p and "{" not in p}


def _resolve(doc: Path, path: str) -> Path:
    if path.startswith(("../", "./")) or not path.startswith(TOP_LEVEL) and doc.parent != ROOT:
        candidate = (doc.parent / path).resolve()
        if candidate.exists():
            return candidate
    return (ROOT / path).resolve()


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_path_the_docs_mention_exists(doc):
    missing = [p for p in sorted(mentioned_paths(doc.read_text())) if not _resolve(doc, p).exists()]
    assert missing == []


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_make_target_the_docs_mention_exists(doc):
    text = doc.read_text()
    # `make x` in inline code, or a `make x` line inside a code block (prose may say "make sure")
    mentioned = set(re.findall(r"`make ([a-z][\w-]*)", text)) | set(re.findall(r"^\s*make ([a-z][\w-]*)", text, re.M))
    assert mentioned - make_targets() == set()


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, re.S)


def mermaid_problems(block: str) -> list[str]:
    """Structural checks: a known diagram type, balanced brackets and quotes, subgraph/end pairs."""
    problems = []
    lines = [line.strip() for line in block.strip().splitlines() if line.strip() and not line.strip().startswith("%%")]
    if not lines or lines[0].split()[0] not in MERMAID_TYPES:
        problems.append(f"unknown diagram type in first line {lines[0] if lines else ''!r}")
    depth = 0
    for number, line in enumerate(lines, 1):
        if line.startswith("subgraph "):
            depth += 1
        elif line == "end":
            depth -= 1
            if depth < 0:
                problems.append(f"line {number}: `end` without `subgraph`")
        stripped = re.sub(r'"[^"]*"', '""', line)
        if stripped.count('"') % 2:
            problems.append(f"line {number}: unbalanced quotes")
        for open_, close in ("[]", "()", "{}"):
            if stripped.count(open_) != stripped.count(close):
                problems.append(f"line {number}: unbalanced {open_}{close}: {line}")
    if depth:
        problems.append(f"{depth} subgraph(s) without `end`")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=_relative)
def test_every_mermaid_block_parses_structurally(doc):
    problems = [p for block in mermaid_blocks(doc.read_text()) for p in mermaid_problems(block)]
    assert problems == []


def test_the_mermaid_check_catches_a_broken_diagram():
    assert mermaid_problems("flowchart LR\n  subgraph a\n  x[open --> y\n")  # missing ] and end
    assert mermaid_problems("flowchrt LR\n a --> b\n")
    assert mermaid_problems("flowchart LR\n a --> b\n") == []


@pytest.mark.parametrize("adr", ADRS, ids=lambda p: p.name)
def test_every_adr_has_all_its_sections(adr):
    text = adr.read_text()
    assert text.startswith("# "), "an ADR starts with its title"
    assert re.search(r"^Status: (proposed|accepted|superseded by .+|deprecated)$", text, re.M)
    assert [s for s in ADR_SECTIONS if s not in text] == []


def test_adrs_are_numbered_uniquely():
    numbers = [p.name[:4] for p in ADRS]
    assert len(numbers) == len(set(numbers))


def test_the_path_check_catches_a_missing_file():
    assert "infra/no_such_module.py" in mentioned_paths("see `infra/no_such_module.py`")
    assert not _resolve(ROOT / "README.md", "infra/no_such_module.py").exists()
