"""Counting a prompt's tokens before it is sent, for the context fit and the budget reservation.

With the models' tokenizer (`tokenizer.json`, registered with every platform model) the count is
exact for them; without one (an external provider's model) it is an upper-bound estimate of one
token per 3 bytes plus a few per message, which over-reserves a little and is settled to the
backend's reported usage anyway.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TokenCounter"]

PER_MESSAGE = 4  # role marker and separators the chat template adds


class TokenCounter:
    def __init__(self, tokenizer_json: Path | str | None = None):
        self._tokenizer = None
        if tokenizer_json:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(tokenizer_json))

    def count(self, text: str, messages: int = 0) -> int:
        if self._tokenizer is not None:
            tokens = len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        else:
            tokens = -(-len(text.encode()) // 3)
        return tokens + PER_MESSAGE * messages + 1
