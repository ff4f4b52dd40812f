"""What the promotion gate measures on an LLM version, on the real engine (llama.cpp).

- Held-out perplexity: exp of the mean negative log-likelihood of every next token of text the model
  never saw (build.held_out_text), computed from llama.cpp's logits in windows of the context.
- Time to first token: a 256-token prompt, prefill until the first generated token.
- Seconds per output token: the decode time of 32 tokens divided by 31.
- Cost per 1k tokens: what that evaluation workload costs at the blueprint's prices, per 1000 tokens
  (prompt and answer together), so models priced differently on input and output compare on one number.

These are logged as the version's run metrics; policies/promotion/llm-rules.yaml holds them to the
champion (perplexity) and to the blueprint's limits (latency, cost).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LLMMetrics", "evaluate_gguf", "perplexity"]

PROMPT_TOKENS = 256
DECODE_TOKENS = 32


@dataclass(frozen=True)
class LLMMetrics:
    perplexity: float
    time_to_first_token_seconds: float
    seconds_per_output_token: float
    cost_per_1k_tokens: float

    def as_dict(self) -> dict[str, float]:
        return {
            "perplexity": self.perplexity,
            "time_to_first_token_seconds": self.time_to_first_token_seconds,
            "seconds_per_output_token": self.seconds_per_output_token,
            "cost_per_1k_tokens": self.cost_per_1k_tokens,
        }


def _load(path: Path, context: int, threads: int):
    from llama_cpp import Llama

    return Llama(str(path), n_ctx=context, n_threads=threads, n_threads_batch=threads, logits_all=True, verbose=False)


def perplexity(llm, text: str, window: int) -> float:
    tokens = llm.tokenize(text.encode(), add_bos=True)
    nll, count = 0.0, 0
    for start in range(0, len(tokens) - 1, window - 1):
        chunk = tokens[start : start + window]
        if len(chunk) < 2:
            break
        llm.reset()
        llm.eval(chunk)
        logits = np.asarray(llm.scores[: len(chunk) - 1], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nll -= log_probs[np.arange(len(chunk) - 1), chunk[1:]].sum()
        count += len(chunk) - 1
    return math.exp(nll / count)


def _timings(llm, prompt: str) -> tuple[float, float]:
    tokens = llm.tokenize(prompt.encode(), add_bos=True)[:PROMPT_TOKENS]
    llm.reset()
    started = time.perf_counter()
    stamps = []
    for _, token in zip(range(DECODE_TOKENS), llm.generate(tokens, temp=0.0, reset=True), strict=False):
        stamps.append(time.perf_counter())
        if token == llm.token_eos():
            break
    ttft = stamps[0] - started
    per_token = (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1)
    return ttft, per_token


def evaluate_gguf(
    path: Path, held_out: str, *, input_per_1k: float, output_per_1k: float, context: int = 1024, threads: int = 1
) -> LLMMetrics:
    llm = _load(path, context, threads)
    ppl = perplexity(llm, held_out, min(context, 512))
    ttft, per_token = _timings(llm, held_out)
    cost = (PROMPT_TOKENS * input_per_1k + DECODE_TOKENS * output_per_1k) / (PROMPT_TOKENS + DECODE_TOKENS)
    return LLMMetrics(ppl, ttft, per_token, cost)
