"""An LLM's GGUF by URL (services/llm/sources.py), against a file server on loopback: downloaded once,
checked against the blueprint's sha256, refused and removed when it does not match."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from blueprints.schema.llm import LLMSource
from services.llm.sources import SourceError, fetch_gguf


@pytest.fixture
def served(tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "model.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 64)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", (tmp_path / "www" / "model.gguf").read_bytes()
    server.shutdown()


def test_a_gguf_by_url_is_downloaded_once_and_checked(served, tmp_path):
    url, content = served
    digest = hashlib.sha256(content).hexdigest()
    path = fetch_gguf(LLMSource(url=f"{url}/model.gguf", sha256=digest), tmp_path / "models")
    assert path.read_bytes() == content
    path.write_bytes(content)  # already there: not fetched again
    assert fetch_gguf(LLMSource(url=f"{url}/model.gguf", sha256=digest), tmp_path / "models") == path


def test_a_gguf_whose_sha256_differs_is_refused_and_removed(served, tmp_path):
    url, _ = served
    with pytest.raises(SourceError, match="sha256 is"):
        fetch_gguf(LLMSource(url=f"{url}/model.gguf", sha256="0" * 64), tmp_path / "models")
    assert not list((tmp_path / "models").iterdir())


def test_a_missing_file_is_an_error_naming_the_url(served, tmp_path):
    url, _ = served
    with pytest.raises(SourceError, match="missing.gguf: download failed"):
        fetch_gguf(LLMSource(url=f"{url}/missing.gguf"), tmp_path / "models")
