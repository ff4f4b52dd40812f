"""Load a blueprint file and turn every problem into a message a reader can act on.

Each error names the file, the field path in the YAML (`tenants[1].quotas.cpu`) and the fix:

    blueprints/x.yaml: tenants[1].quotas.cpu: "lots" is not a Kubernetes quantity (e.g. "4" or "500m")

All errors of a file are reported at once, so a user fixes a blueprint in one pass.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from blueprints.schema import Blueprint

__all__ = ["BlueprintError", "SHIPPED", "BLUEPRINT_DIR", "load", "load_text", "resolve", "shipped_blueprints"]

BLUEPRINT_DIR = Path(__file__).resolve().parent
SHIPPED = ("foundation", "multi-tenant", "enterprise", "llm", "federated")


class BlueprintError(ValueError):
    """One or more problems in a blueprint file; `problems` holds one line each."""

    def __init__(self, source: str, problems: Iterable[str]):
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def resolve(name_or_path: str, *, base: Path | None = None) -> Path:
    """A shipped blueprint's name (`multi-tenant`) or a path to any blueprint file."""
    if name_or_path in SHIPPED:
        return BLUEPRINT_DIR / f"{name_or_path}.yaml"
    path = Path(name_or_path)
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        raise BlueprintError(
            name_or_path,
            [f"no such blueprint: give a shipped name ({', '.join(SHIPPED)}) or the path to a YAML file"],
        )
    return path


def shipped_blueprints() -> list[Path]:
    return [BLUEPRINT_DIR / f"{name}.yaml" for name in SHIPPED]


def load(name_or_path: str | Path, *, base: Path | None = None) -> Blueprint:
    path = resolve(str(name_or_path), base=base)
    return load_text(path.read_text(encoding="utf-8"), source=_display(path))


def load_text(text: str, *, source: str = "<blueprint>") -> Blueprint:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise BlueprintError(source, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]) from None
    if not isinstance(data, dict):
        raise BlueprintError(source, ["the document must be a mapping with apiVersion, kind, metadata and tenants"])
    try:
        return Blueprint.model_validate(data)
    except ValidationError as exc:
        raise BlueprintError(source, [_describe(err, data) for err in exc.errors()]) from None


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_EMBEDDED_PATH = re.compile(r"^(?P<path>[A-Za-z]+(\[\d+\])?(\.[A-Za-z]+(\[\d+\])?)*): (?P<msg>.*)$", re.S)


def _describe(err: dict[str, Any], data: dict[str, Any]) -> str:
    loc = tuple(part for part in err["loc"] if not _is_union_tag(part))
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
        return f"{_path(loc)}: unknown key {loc[-1]!r} (a typo?); {hint}"
    if kind == "missing":
        return f"{_path(loc)}: required key is missing: add it"
    message = err["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        embedded = _EMBEDDED_PATH.match(message)
        if embedded and not loc:  # a whole-blueprint check that names its own field path
            return f"{embedded['path']}: {embedded['msg']}"
        if embedded:  # a section's check that names the field inside the section
            return f"{_path(loc)}.{embedded['path']}: {embedded['msg']}"
        return f"{_path(loc)}: {message}" if loc else message
    if kind in ("literal_error", "enum"):
        return f"{_path(loc)}: {value!r} is not allowed; {message[0].lower()}{message[1:]}"
    shown = f"{value!r}: " if not isinstance(value, dict | list) else ""
    return f"{_path(loc)}: {shown}{message[0].lower()}{message[1:]}"


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the union member's type name (e.g. "str", "int") to the location of union errors
    return isinstance(part, str) and part in {
        "str",
        "int",
        "float",
        "function-after[_quantity(), union[str,int,float]]",
    }


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema accepts at `loc`, in YAML spelling, to suggest next to an unknown key."""
    annotation: Any = Blueprint
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else Any
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next((f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            annotation = field.annotation
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation
