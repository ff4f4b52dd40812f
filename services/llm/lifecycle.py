"""An LLM's way into the registry: fetch its GGUF, measure it on llama.cpp, register the version.

The same steps for the platform's own models and for a GGUF from a URL or Hugging Face: the gate
cannot tell them apart, and must not. The tokenizer travels with the version when the platform built
the model (an external GGUF carries its own inside).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from blueprints.schema.llm import LLMModel
from services.llm.build import build_models, held_out_text
from services.llm.evaluate import evaluate_gguf
from services.llm.registry import RegisteredLLM, register_llm
from services.llm.sources import fetch_gguf

__all__ = ["register_from_blueprint", "model_card"]


def model_card(model: LLMModel) -> str:
    source = model.source
    origin = (
        f"the platform's `{source.builtin}` model (fitted bigram statistics in a Llama network, "
        "services/llm/gguf_models.py: its text is poor, its mechanics real)"
        if source.builtin
        else f"GGUF from {source.url or source.hugging_face}"
    )
    return (
        f"{model.name}: {origin}. Quality tier {model.quality}, context {model.context_length} tokens, "
        f"priced {model.prices.input_per_1k:g}/{model.prices.output_per_1k:g} per 1k input/output tokens. "
        "Measured on held-out text of the generated corpus (perplexity) and on llama.cpp (latency)."
    )


def _code_version() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        return done.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def register_from_blueprint(
    tenant: str, model: LLMModel, *, gguf: Path | None = None, download_dir: Path = Path(".mlplat/llm/sources")
) -> tuple[RegisteredLLM, dict[str, float]]:
    path = gguf or fetch_gguf(model.source, download_dir)
    tokenizer = build_models(embedding=False).tokenizer if model.source.builtin and gguf is None else None
    metrics = evaluate_gguf(
        path,
        held_out_text(),
        input_per_1k=model.prices.input_per_1k,
        output_per_1k=model.prices.output_per_1k,
        threads=model.threads,
    ).as_dict()
    registered = register_llm(
        model.name,
        tenant,
        path,
        tokenizer,
        metrics,
        description=model_card(model),
        params={"context_length": model.context_length, "quality": model.quality, "source": path.name},
        code_version=_code_version(),
    )
    return registered, metrics
