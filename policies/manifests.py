"""Read plain Kubernetes YAML (files or folders) into KubeObjects, for `mlplat policy check`.

Every problem names the file, the document and the fix, and all of them are reported at once:
a path that does not exist, a folder with no YAML in it, YAML that does not parse, a document that
is not a Kubernetes object. Empty documents (a trailing `---`) are skipped; a `kind: List` is
expanded into its items, as kubectl does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from policies.kube import KubeObject, from_manifest

__all__ = ["ManifestError", "load_objects", "YAML_SUFFIXES"]

YAML_SUFFIXES = (".yaml", ".yml")


class ManifestError(ValueError):
    """One or more unreadable inputs; `problems` holds one line each."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _files(paths: Iterable[Path], problems: list[str]) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{path}: no .yaml or .yml files in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder: give a YAML file or a folder of them")
    return files


def _documents(path: Path, problems: list[str]) -> list[object]:
    try:
        return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.append(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc}): fix the syntax")
    except UnicodeDecodeError:
        problems.append(f"{path}: not a text file: give Kubernetes YAML")
    return []


def load_objects(paths: Iterable[str | Path]) -> list[KubeObject]:
    """Every Kubernetes object in the given files and folders (recursively), in order."""
    problems: list[str] = []
    objects = []
    for file in _files([Path(p) for p in paths], problems):
        for number, document in enumerate(_documents(file, problems), start=1):
            if document is None:
                continue
            items = document.get("items") if isinstance(document, dict) and document.get("kind") == "List" else None
            for index, item in enumerate(items if isinstance(items, list) else [document]):
                source = f"{file}#{number}" + (f".items[{index}]" if items is not None else "")
                try:
                    objects.append(from_manifest(item, source))
                except ValueError as exc:
                    problems.append(f"{source}: {exc}")
    if problems:
        raise ManifestError(problems)
    return objects
