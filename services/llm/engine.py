"""The inference backend: llama.cpp's OpenAI-compatible server, through llama-cpp-python (ADR 0022).

One process per replica, serving one GGUF under its model name. The options chosen, and why:
- `cache` on, in RAM, `prompt_cache_mib` large: llama-cpp-python keeps the KV state of recent prompts
  and restores the longest matching prefix, so a request sharing a system prompt with an earlier one
  skips that prefill. The capacity bounds how many prefixes a replica holds, which is what makes the
  gateway's prefix-aware routing matter (services/llm/gateway/replicas.py).
- `interrupt_requests` off: by default a new request interrupts a running stream; a shared backend
  must finish every answer, and queues the rest (one sequence at a time per replica).
- `n_threads` from the blueprint, the same for prefill and decode; the replica's CPU limit should
  match it.
- `logits_all` off: only the last position's logits are needed to sample, so prefill skips the
  output projection of every other position.
- the embedding model runs with `embedding` on (mean pooling, from its GGUF metadata).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["backend_command", "ENGINE_MODULE"]

ENGINE_MODULE = "llama_cpp.server"


def backend_command(
    gguf: Path | str,
    name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8100,
    context: int = 2048,
    threads: int = 1,
    prompt_cache_mib: int = 256,
    embedding: bool = False,
    python: str = sys.executable,
) -> list[str]:
    """The command line of one backend replica."""
    command = [
        python,
        "-m",
        ENGINE_MODULE,
        "--model",
        str(gguf),
        "--model_alias",
        name,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(context),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--interrupt_requests",
        "false",
        "--logits_all",
        "false",
        "--verbose",
        "false",
    ]
    if embedding:
        command += ["--embedding", "true"]
    elif prompt_cache_mib > 0:
        command += ["--cache", "true", "--cache_type", "ram", "--cache_size", str(prompt_cache_mib * 2**20)]
    return command
