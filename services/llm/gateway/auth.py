"""API keys: one per tenant, from a Secret mounted as files (`<keys dir>/<tenant>` holds the key).

The gateway never stores or logs a key; it keeps a map from each key's SHA-256 to its tenant and
compares digests in constant time (`hmac.compare_digest`), so a lookup reveals nothing by timing.
A missing or unknown key is a 401 in OpenAI's format.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from services.llm.gateway.errors import GatewayError

__all__ = ["ApiKeys", "load_keys"]


class ApiKeys:
    def __init__(self, keys: dict[str, str]):
        """keys: tenant -> key."""
        self._digests = {hashlib.sha256(key.encode()).digest(): tenant for tenant, key in keys.items() if key}

    def tenant(self, authorization: bytes | None) -> str:
        if not authorization or not authorization.lower().startswith(b"bearer "):
            raise GatewayError(
                401, "no API key: send `Authorization: Bearer <your tenant's key>`", None, "invalid_api_key"
            )
        digest = hashlib.sha256(authorization[7:].strip()).digest()
        for known, tenant in self._digests.items():
            if hmac.compare_digest(known, digest):
                return tenant
        raise GatewayError(401, "Incorrect API key provided", None, "invalid_api_key")


def load_keys(directory: Path | str, tenants: list[str]) -> ApiKeys:
    """Read `<directory>/<tenant>` for every tenant of the gateway; a missing file is an error naming it."""
    directory = Path(directory)
    keys = {}
    for tenant in tenants:
        path = directory / tenant
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no API key for tenant {tenant!r} (the gateway's keys Secret lacks it)")
        keys[tenant] = path.read_text().strip()
    return ApiKeys(keys)
