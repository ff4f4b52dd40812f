"""The platform's tokenizer: byte-level BPE trained with Hugging Face `tokenizers` on the generated corpus.

Byte-level BPE (GPT-2's scheme) because llama.cpp reads it natively from GGUF (`tokenizer.ggml.model =
gpt2`, pre-tokenizer `gpt-2`): every byte has a token, so no input is ever unknown, and the merges
learned from the corpus make frequent words single tokens. Three special tokens frame a chat (the
chat template in GGUF uses them) and one ends a document. The trained `tokenizer.json` travels with
every model in the registry, so a client (or the gate) counts tokens exactly as the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.llm.corpus import corpus

__all__ = ["SPECIAL_TOKENS", "BOS", "EOS", "CHAT_TEMPLATE", "train_tokenizer", "TokenizerFiles"]

BOS, EOS = "<s>", "</s>"
SPECIAL_TOKENS = (BOS, EOS, "<|system|>", "<|user|>", "<|assistant|>")
# Jinja, as llama.cpp and llama-cpp-python render it: a role marker, the text, and the assistant's cue.
# The cue ends in a newline, which in the corpus always precedes a new paragraph: the models (bigram
# statistics, gguf_models.py) then answer with a sentence.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class TokenizerFiles:
    json_path: Path
    vocab_size: int


def train_tokenizer(out_dir: Path, vocab_size: int = 1024, sentences: int = 20000) -> TokenizerFiles:
    """Train on `sentences` generated sentences and write `tokenizer.json` into out_dir."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = corpus(sentences)
    tokenizer.train_from_iterator(text.splitlines(keepends=True), trainer=trainer)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "tokenizer.json"
    tokenizer.save(str(path))
    return TokenizerFiles(path, tokenizer.get_vocab_size())
