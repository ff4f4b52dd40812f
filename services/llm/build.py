"""Build the platform's own models once, into a cache outside the repository.

`build_models()` trains the tokenizer on the generated corpus, fits the three Llama models of
gguf_models.SHAPES and converts the MiniLM embedding model, writing them to
`~/.cache/mlops-platform/llm/models/<digest>/`. The digest covers everything that shapes the files
(this package's generator code and the corpus size), so a change rebuilds and an unchanged tree
reuses the files: the first build takes about a minute on two cores, later ones nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ModelSet", "build_models", "cache_root", "held_out_text"]

CORPUS_SENTENCES = 20_000
_GENERATORS = ("corpus.py", "tokenizer.py", "gguf_models.py", "embedding_model.py", "build.py")


def cache_root() -> Path:
    return Path(os.environ.get("MLPLAT_CACHE", Path.home() / ".cache" / "mlops-platform")) / "llm" / "models"


@dataclass(frozen=True)
class ModelSet:
    directory: Path
    tokenizer: Path
    models: dict[str, Path]  # builtin name (tiny, small, large) -> GGUF
    embedding: Path | None

    def gguf(self, name: str) -> Path:
        if name == "minilm" and self.embedding is not None:
            return self.embedding
        return self.models[name]


def _digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256(str(CORPUS_SENTENCES).encode())
    for name in _GENERATORS:
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def held_out_text(sentences: int = 300) -> str:
    """Text the models never saw (another seed of the same grammar): the gate's perplexity set."""
    from services.llm.corpus import HELD_OUT_SEED, corpus

    return corpus(sentences, seed=HELD_OUT_SEED)


def build_models(root: Path | None = None, *, embedding: bool = True) -> ModelSet:
    """The tokenizer, tiny/small/large and (if its package is installed) the embedding model."""
    from services.llm.corpus import corpus
    from services.llm.gguf_models import SHAPES, bigram_log_probs, token_ids, write_llama_gguf
    from services.llm.tokenizer import train_tokenizer

    directory = (root or cache_root()) / _digest()
    manifest = directory / "manifest.json"
    if manifest.is_file():
        return _load(directory, json.loads(manifest.read_text()), embedding)
    work = directory.with_name(directory.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    files = train_tokenizer(work, sentences=CORPUS_SENTENCES)
    logp = bigram_log_probs(token_ids(files.json_path, corpus(CORPUS_SENTENCES)), files.vocab_size)
    for seed, (name, shape) in enumerate(SHAPES.items()):
        write_llama_gguf(work / f"{name}.gguf", shape, files.json_path, logp, seed=seed)
    written = {"tokenizer": "tokenizer.json", "models": {name: f"{name}.gguf" for name in SHAPES}}
    (work / "manifest.json").write_text(json.dumps(written, indent=2))
    work.rename(directory)  # atomic: a half-built set is never picked up
    return _load(directory, written, embedding)


def _load(directory: Path, written: dict, embedding: bool) -> ModelSet:
    embedding_path = None
    if embedding:
        embedding_path = directory / "minilm.gguf"
        if not embedding_path.is_file():
            from services.llm.embedding_model import write_minilm_gguf

            partial = embedding_path.with_suffix(".partial")
            write_minilm_gguf(partial)
            partial.rename(embedding_path)
    return ModelSet(
        directory=directory,
        tokenizer=directory / written["tokenizer"],
        models={name: directory / file for name, file in written["models"].items()},
        embedding=embedding_path,
    )
