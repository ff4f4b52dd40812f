"""Model URIs the server accepts: `models:/<name>@<alias>` (followed as the alias moves) and
`models:/<name>/<version>` (pinned)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelRef", "parse_model_uri"]

_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[A-Za-z0-9_-]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    alias: str | None = None
    version: str | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else f"models:/{self.name}/{self.version}"


def parse_model_uri(uri: str) -> ModelRef:
    for pattern in (_ALIAS, _VERSION):
        match = pattern.match(uri)
        if match:
            return ModelRef(**match.groupdict())
    raise ValueError(
        f"{uri!r} is not a model URI: use models:/<name>@<alias> (e.g. models:/iris@champion) "
        "or models:/<name>/<version>"
    )
