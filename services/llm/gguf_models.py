"""Small Llama-architecture language models, fitted in closed form and written as GGUF.

No weights can be downloaded and a 2-core machine cannot pre-train a transformer, so each model is
*fitted* rather than trained: the corpus's next-token statistics (a smoothed bigram table, in log
probabilities) are factorised with an SVD, and the rank-`d` factors become the token embedding and
the output projection of a real Llama network of width `d`. The transformer blocks between them are
real too (attention with RoPE and grouped heads, SwiGLU feed-forward, RMSNorm), initialised small
and seeded, so llama.cpp does the full amount of work per token: prefill, KV cache, decode.

Why this is useful for teaching: the width sets the rank, and the rank sets how much of the bigram
table survives, so a wider model is measurably better (lower held-out perplexity, ADR 0022) and
measurably slower and costlier. That is exactly the trade-off cost-aware routing makes. The text is
poor (a bigram model's), and nothing claims otherwise.

The embedding's RMS norm is held constant by one padding dimension, so the network's first
RMSNorm does not rescale the logits token by token: logits = U_t S V^T, the fitted table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.llm.tokenizer import BOS, CHAT_TEMPLATE, EOS

__all__ = ["ModelShape", "SHAPES", "bigram_log_probs", "write_llama_gguf", "token_ids"]


@dataclass(frozen=True)
class ModelShape:
    """A Llama network's dimensions. `context` is the longest prompt plus answer it accepts."""

    name: str
    width: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    context: int

    def parameters(self, vocab: int) -> int:
        head = self.width // self.heads
        attention = self.width * self.width * 2 + 2 * self.width * head * self.kv_heads
        block = attention + 3 * self.width * self.ffn + 2 * self.width
        return 2 * vocab * self.width + self.layers * block + self.width


# Three sizes, clearly apart in parameters, compute per token and quality. The width sets the rank of
# the fit, and the rank the held-out perplexity (measured on the generated corpus: rank 15 ~21,
# rank 47 ~6.2, rank 63 and up ~5.7, where the bigram table is exhausted). The large model is wide and
# deep anyway: it is the one whose prefill is long enough to make the prefix cache matter.
SHAPES = {
    "tiny": ModelShape("tiny", width=16, layers=2, heads=2, kv_heads=1, ffn=48, context=2048),
    "small": ModelShape("small", width=48, layers=4, heads=4, kv_heads=2, ffn=192, context=4096),
    "large": ModelShape("large", width=512, layers=8, heads=8, kv_heads=4, ffn=1536, context=4096),
}


def token_ids(tokenizer_json: Path, text: str) -> list[int]:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_json)).encode(text).ids


def bigram_log_probs(ids: list[int], vocab: int, smoothing: float = 0.1) -> np.ndarray:
    """log P(next | current) with add-k smoothing, rows centred (softmax ignores a row's constant)."""
    counts = np.full((vocab, vocab), smoothing, dtype=np.float64)
    np.add.at(counts, (np.asarray(ids[:-1]), np.asarray(ids[1:])), 1.0)
    logp = np.log(counts / counts.sum(axis=1, keepdims=True))
    return logp - logp.mean(axis=1, keepdims=True)


def _fit(logp: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Embedding (vocab x width) and output (vocab x width) whose product is the rank-(width-1) fit."""
    u, s, vt = np.linalg.svd(logp, full_matrices=False)
    rank = min(width - 1, len(s))
    root = np.sqrt(s[:rank])
    left, right = u[:, :rank] * root, vt[:rank].T * root
    # RMSNorm divides by sqrt(mean(x^2)); keep every row's norm^2 at `width` (RMS 1) with a padding
    # dimension, after scaling the factors so the largest row fits.
    scale = 0.9 * np.sqrt(width) / np.linalg.norm(left, axis=1).max()
    embed = np.zeros((logp.shape[0], width))
    embed[:, :rank] = left * scale
    embed[:, width - 1] = np.sqrt(np.maximum(width - (embed[:, :rank] ** 2).sum(axis=1), 0.0))
    output = np.zeros((logp.shape[0], width))
    output[:, :rank] = right / scale
    return embed, output


def _blocks(shape: ModelShape, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The transformer blocks: seeded, with small output projections so they perturb the fit a little."""
    head = shape.width // shape.heads
    tensors: dict[str, np.ndarray] = {}

    def normal(rows: int, cols: int, std: float) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * std).astype(np.float16)

    for b in range(shape.layers):
        w, f = shape.width, shape.ffn
        tensors |= {
            f"blk.{b}.attn_norm.weight": np.ones(w, dtype=np.float32),
            f"blk.{b}.attn_q.weight": normal(w, w, w**-0.5),
            f"blk.{b}.attn_k.weight": normal(head * shape.kv_heads, w, w**-0.5),
            f"blk.{b}.attn_v.weight": normal(head * shape.kv_heads, w, w**-0.5),
            f"blk.{b}.attn_output.weight": normal(w, w, 0.02 * w**-0.5),
            f"blk.{b}.ffn_norm.weight": np.ones(w, dtype=np.float32),
            f"blk.{b}.ffn_gate.weight": normal(f, w, w**-0.5),
            f"blk.{b}.ffn_up.weight": normal(f, w, w**-0.5),
            f"blk.{b}.ffn_down.weight": normal(w, f, 0.02 * f**-0.5),
        }
    return tensors


def _write_tokenizer(writer, tokenizer_json: Path) -> None:
    import gguf

    spec = json.loads(tokenizer_json.read_text())
    vocab: dict[str, int] = spec["model"]["vocab"]
    specials = {t["content"]: t["id"] for t in spec["added_tokens"]}
    tokens = [""] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        tokens[index] = token
    types = [gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t in tokens]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([" ".join(pair) for pair in spec["model"]["merges"]])
    writer.add_bos_token_id(specials[BOS])
    writer.add_eos_token_id(specials[EOS])
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHAT_TEMPLATE)


def write_llama_gguf(path: Path, shape: ModelShape, tokenizer_json: Path, logp: np.ndarray, seed: int = 0) -> Path:
    """Write one model: metadata, the tokenizer, and the fitted and seeded tensors, as F16/F32 GGUF."""
    import gguf

    vocab = logp.shape[0]
    embed, output = _fit(logp, shape.width)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"mlplat-{shape.name}")
    writer.add_description("fitted bigram statistics in a Llama network (services/llm/gguf_models.py)")
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.width)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_rope_dimension_count(shape.width // shape.heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _write_tokenizer(writer, tokenizer_json)
    writer.add_tensor("token_embd.weight", embed.astype(np.float16))
    writer.add_tensor("output_norm.weight", np.ones(shape.width, dtype=np.float32))
    writer.add_tensor("output.weight", output.astype(np.float16))
    for name, tensor in _blocks(shape, np.random.default_rng(seed)).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
