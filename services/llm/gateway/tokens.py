"""Counting a prompt's tokens before it is sent, for the context fit and the budget reservation.

With the models' tokenizer (`tokenizer.json`, registered with every platform model) the text's count
is exact, and the chat template's tokens are added on top as an upper bound: each message's role
marker and newlines (`PER_MESSAGE`), the BOS token and the assistant's cue (`PER_REQUEST`). An upper
bound matters: budgets reserve this count, and a reservation below the real usage would let
concurrent requests overshoot a budget by more than one request (the benchmark measured 38 tokens
over with one token too few per message). Without a tokenizer (an external provider's model) the
text is estimated at one token per 3 bytes. Either way the reservation is settled to the backend's
reported usage.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TokenCounter"]

PER_MESSAGE = 4  # a role marker and the newlines around the content (the platform's template adds 3)
PER_REQUEST = 4  # BOS, the assistant's cue and its newline (3), and one to spare


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
        return tokens + PER_MESSAGE * messages + PER_REQUEST
