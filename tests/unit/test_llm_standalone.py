"""LLM serving as standalone processes (services/llm/standalone.py): what the supervisor is given."""

from __future__ import annotations

import json

from blueprints import load
from blueprints.naming import Ports
from services.llm.standalone import ensure_keys, llm_processes


def test_standalone_runs_every_replica_the_embeddings_and_the_gateway_on_loopback(tmp_path, monkeypatch):
    monkeypatch.delenv("MLPLAT_LLM_CACHE_DSN", raising=False)
    plan = llm_processes(load("llm"), tmp_path, tracking_uri="http://127.0.0.1:5000", python="python")
    names = [p.name for p in plan.processes]
    assert names == [
        "llm-chat-tiny-0",
        "llm-chat-tiny-1",
        "llm-chat-small-0",
        "llm-chat-large-0",
        "llm-embeddings",
        "llm-gateway",
    ]
    tiny = plan.processes[0]
    assert tiny.command[4:6] == ["backend", "models:/chat-tiny@champion"]
    assert tiny.command[-2:] == ["--fallback-source", "builtin:tiny"]  # before anything is registered
    assert plan.processes[-1].port == Ports.LLM_GATEWAY
    ports = [p.port for p in plan.processes]
    assert len(set(ports)) == len(ports)
    config = json.loads(plan.files[tmp_path / "llm" / "gateway.json"])
    assert config["deployments"]["chat-tiny"]["replicas"] == [f"http://127.0.0.1:{p}" for p in ports[:2]]
    assert config["semantic_cache"] is False and "llm-semantic-cache" in plan.skipped
    assert not (tmp_path / "llm" / "keys").exists()  # the plan writes no secret
    assert sorted(ensure_keys(load("llm"), tmp_path)) == ["research", "support"]
    keys = {p.name for p in (tmp_path / "llm" / "keys").iterdir()}
    assert keys == {"support", "research"}
    assert all(((tmp_path / "llm" / "keys" / k).stat().st_mode & 0o077) == 0 for k in keys)


def test_standalone_keeps_a_tenants_key_across_restarts_and_uses_the_semantic_cache_when_given_one(tmp_path):
    first = llm_processes(load("llm"), tmp_path, tracking_uri="x", cache_dsn="postgresql://u:p@127.0.0.1/c")
    ensure_keys(load("llm"), tmp_path)
    key = (tmp_path / "llm" / "keys" / "support").read_text()
    ensure_keys(load("llm"), tmp_path)
    assert (tmp_path / "llm" / "keys" / "support").read_text() == key
    assert json.loads(first.files[tmp_path / "llm" / "gateway.json"])["semantic_cache"] is True
    assert first.processes[-1].env == {"MLPLAT_LLM_CACHE_DSN": "postgresql://u:p@127.0.0.1/c"}
