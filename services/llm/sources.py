"""Where an LLM's GGUF comes from, before it is registered: the platform's own build, a URL, or a
Hugging Face repository (blueprints/schema/llm.py LLMSource).

The download paths are real code for users with internet: a URL is fetched with the standard
library into a temporary file, checked against `sha256` when the blueprint gives one, and moved into
place; a Hugging Face file goes through `huggingface_hub` (installed separately: the platform does
not need it offline). The tests exercise the URL path against a server on loopback.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
from pathlib import Path

from blueprints.schema.llm import LLMSource

__all__ = ["SourceError", "fetch_gguf"]


class SourceError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, target: Path, timeout: float) -> None:
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".partial") as handle:
        partial = Path(handle.name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, handle, 1 << 20)
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise SourceError(f"{url}: download failed ({exc})") from None
    partial.rename(target)


def fetch_gguf(source: LLMSource, directory: Path, *, timeout: float = 600.0) -> Path:
    """The GGUF file for `source`, in `directory` (downloaded once; the builtin models come from
    services/llm/build.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    if source.builtin is not None:
        from services.llm.build import build_models

        return build_models(embedding=False).gguf(source.builtin)
    if source.url is not None:
        target = directory / source.url.rsplit("/", 1)[-1]
        if not target.is_file():
            _download(source.url, target, timeout)
    else:
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            raise SourceError(
                f"{source.hugging_face}: downloading from Hugging Face needs `pip install huggingface_hub`"
            ) from None
        target = Path(hf_hub_download(repo_id=source.hugging_face, filename=source.file, cache_dir=str(directory)))
    if source.sha256 is not None and (actual := _sha256(target)) != source.sha256:
        target.unlink()
        raise SourceError(f"{target.name}: sha256 is {actual}, the blueprint expects {source.sha256}; removed it")
    return target
