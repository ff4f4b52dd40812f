"""Secrets a local platform generates for itself (the Pulumi passphrase, the webhook secret):
random, written once, readable by their owner only, never printed or committed (.mlplat/ is ignored)."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["read_or_create", "fernet_key"]


def fernet_key() -> str:
    """A Fernet key (32 random bytes, url-safe base64): what MLflow encrypts webhook secrets with."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def read_or_create(path: Path, generate: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> tuple[str, bool]:
    """(the secret, whether it was created now). Creation is exclusive: two processes cannot race."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip(), False
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate())
        return path.read_text().strip(), True
    return path.read_text().strip(), False
