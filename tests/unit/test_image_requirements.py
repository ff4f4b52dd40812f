"""The platform image installs the project's dependencies and its `services` and `features` extras only
(services/Dockerfile). Every third-party module the model server imports must come from a distribution
those requirements bring in, directly or through another one: the kind run found the model server
crash-looping on `import grpc`, which the development environment had only through Pulumi (infra)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGE_EXTRAS = ("services", "features")  # services/Dockerfile


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements install, following installed metadata (no extras below the top)."""
    seen: set[str] = set()
    todo = [_name(r) for r in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def _imports(folder: Path) -> set[str]:
    modules = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"services", "blueprints", "infra", "policies", "__future__"}


def test_every_module_the_model_server_imports_is_installed_in_the_platform_image():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in IMAGE_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    installed = _closure(requirements)
    providers = metadata.packages_distributions()
    missing = {
        module: providers.get(module)
        for module in _imports(ROOT / "services" / "model_server")
        if not {d.lower().replace("_", "-") for d in providers.get(module, [])} & installed
    }
    assert missing == {}, "declare these in pyproject.toml's services extra (the image installs it)"
