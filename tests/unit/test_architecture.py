"""The shape of the code, as checks: no import cycles, command modules that only call what they command,
and functions short enough to read in one sitting.

These hold the layout a forker relies on (CONTRIBUTING.md): data flows one way, the command line parses
and calls a target, and a reader finds one concept per function. A function may reach LIMIT lines; a
declaration (a component's resources, alert rules, dashboards, an argument parser) may reach
DECLARATION_LIMIT if it is listed in DECLARATIONS with what it declares.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("blueprints", "infra", "services", "policies")
LIMIT = 80
DECLARATION_LIMIT = 150

# "<path>:<function>" -> what it declares. Everything here is data written as code, read top to bottom.
DECLARATIONS = {
    "infra/components/tenant.py:__init__": "a tenant's namespace, quota, limits, RBAC and policies",
    "infra/components/metrics_server.py:__init__": "metrics-server's upstream manifests, as resources",
    "infra/components/training_trigger.py:__init__": "the training trigger's Deployment, RBAC and Service",
    "infra/components/model_service.py:__init__": "a model server's Deployment, Service, HPA and PDB",
    "infra/components/registry_access.py:__init__": "the registry users' Secrets, plan and bootstrap Job",
    "infra/components/monitoring/prometheus.py:__init__": "Prometheus' RBAC, config, rules, volume and server",
    "services/monitoring/rules.py:alerting_rules": "every alert rule",
    "services/cli/registry_cmd.py:register": "the registry command's arguments",
    "infra/components/gateway.py:__init__": "the gateway's ConfigMap, Deployment, NodePort Service and PDB",
    "services/model_server/openapi.py:openapi_document": "the model server's OpenAPI document",
    "infra/components/llm_gateway.py:_gateway": "the LLM gateway's config, Secret, Deployment and Service",
    "infra/components/llm_service.py:__init__": "an LLM's StatefulSet, headless Service and PDB",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `name` imports, at any level of the file (imports inside functions count too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` names module a.b when there is one, else something defined in a
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@cache
def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan): each one is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_there_is_no_import_cycle_in_the_tree():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_command_module_imports_another():
    graph = import_graph()
    commands = {name for name in graph if name.startswith("services.cli.") and name.endswith("_cmd")}
    offenders = {name: sorted(graph[name] & commands) for name in sorted(commands) if graph[name] & commands}
    assert offenders == {}


@cache
def _functions() -> list[tuple[str, int]]:
    out = []
    for package in (*PACKAGES, "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    out.append((f"{path.relative_to(ROOT)}:{node.name}", node.end_lineno - node.lineno + 1))
    return out


def test_no_function_is_longer_than_a_reader_can_hold():
    too_long = {
        where: lines for where, lines in _functions() if lines > (DECLARATION_LIMIT if where in DECLARATIONS else LIMIT)
    }
    assert too_long == {}, f"split these (or, for a declaration up to {DECLARATION_LIMIT} lines, list it)"


@pytest.mark.parametrize("where", sorted(DECLARATIONS))
def test_every_listed_declaration_still_exists_and_needs_its_allowance(where):
    lengths = dict(_functions())
    assert where in lengths, f"{where} is gone: remove it from DECLARATIONS"
    assert lengths[where] > LIMIT, f"{where} fits in {LIMIT} lines now: remove it from DECLARATIONS"
