"""The platform's own LLMs on the real engine, in the real registry, through the real gate.

- the MiniLM GGUF computes what the published weights compute (a NumPy BERT forward pass);
- the fitted models are ordered by held-out perplexity as their widths say, measured by llama.cpp;
- an LLM version is an MLflow model carrying the GGUF and its tokenizer, promoted by the gate with the
  LLM rules: a better champion passes, a worse challenger fails on perplexity, a model over the
  blueprint's cost limit fails on cost.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from blueprints.schema import LLMPrices
from blueprints.schema.llm import LLMLimits
from services.llm.build import build_models, held_out_text
from services.llm.evaluate import evaluate_gguf
from services.llm.registry import download_gguf, register_llm
from services.promotion_gate import registry
from services.promotion_gate.audit import AuditLog
from services.promotion_gate.gate import promote
from services.promotion_gate.rules import load_rules

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models():
    return build_models()


def _bert_reference(source: Path, text: str) -> np.ndarray:
    """all-MiniLM-L6-v2 in NumPy from its safetensors: the embedding GGUF must agree with it."""
    from math import erf

    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    w = load_file(str(source / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_padding()
    ids = np.array(tokenizer.encode(text).ids)

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def dense(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
    x = norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    heads, width = 12, x.shape[1]
    for layer in range(6):
        p = f"encoder.layer.{layer}"
        q, k, v = (
            dense(x, f"{p}.attention.self.{n}").reshape(len(ids), heads, -1).transpose(1, 0, 2)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(width // heads)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attended = (scores / scores.sum(-1, keepdims=True) @ v).transpose(1, 0, 2).reshape(len(ids), width)
        x = norm(x + dense(attended, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        hidden = dense(x, f"{p}.intermediate.dense")
        hidden = 0.5 * hidden * (1 + np.vectorize(erf)(hidden / np.sqrt(2)))
        x = norm(x + dense(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_the_embedding_gguf_computes_what_the_published_weights_compute(models):
    from llama_cpp import Llama

    from services.llm.embedding_model import minilm_dir

    engine = Llama(str(models.embedding), embedding=True, n_ctx=512, verbose=False)
    for text in ("How do I reset my password?", "The gateway's cache answered in 0.7 ms."):
        ours = np.array(engine.create_embedding(text)["data"][0]["embedding"])
        assert float(ours / np.linalg.norm(ours) @ _bert_reference(minilm_dir(), text)) > 0.9999


def test_wider_models_have_lower_held_out_perplexity_on_the_engine(models):
    prices = {"input_per_1k": 0.001, "output_per_1k": 0.002}
    tiny = evaluate_gguf(models.models["tiny"], held_out_text(60), **prices)
    small = evaluate_gguf(models.models["small"], held_out_text(60), **prices)
    assert tiny.perplexity > 2 * small.perplexity > 2
    assert tiny.time_to_first_token_seconds > 0 and small.seconds_per_output_token > 0
    assert tiny.cost_per_1k_tokens == pytest.approx((256 * 0.001 + 32 * 0.002) / 288)


def _register(name: str, gguf: Path, tokenizer: Path, metrics: dict) -> str:
    return register_llm(
        name, "genai", gguf, tokenizer, metrics, description=f"{name}: test LLM", code_version="t"
    ).version


def test_the_gate_promotes_an_llm_with_the_llm_rules_and_refuses_a_worse_one(mlflow_server, models, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(mlflow_server.uri)
    client = MlflowClient(mlflow_server.uri)
    rules, audit = load_rules(), AuditLog(tmp_path / "audit.jsonl")
    limits = LLMLimits(
        max_seconds_per_output_token=1.0, max_time_to_first_token_seconds=5.0, max_cost_per_1k_tokens=0.01
    )
    good = {
        "perplexity": 6.6,
        "time_to_first_token_seconds": 0.08,
        "seconds_per_output_token": 0.001,
        "cost_per_1k_tokens": 0.002,
    }
    first = _register("llm-chat", models.models["small"], models.tokenizer, good)
    registry.approve(client, "llm-chat", first, "reviewer")
    decision = promote(client, rules, audit, "llm-chat", first, "champion", actor="ci", limits=limits.model_dump())
    assert decision.passed, decision.table()
    assert {v.rule for v in decision.verdicts} >= {
        "perplexity-vs-champion",
        "latency-per-output-token",
        "cost-per-1k-tokens",
    }

    worse = _register("llm-chat", models.models["tiny"], models.tokenizer, {**good, "perplexity": 23.3})
    registry.approve(client, "llm-chat", worse, "reviewer")
    refused = promote(client, rules, audit, "llm-chat", worse, "champion", actor="ci", limits=limits.model_dump())
    failed = {v.rule: v.evidence for v in refused.verdicts if not v.passed}
    assert set(failed) == {"perplexity-vs-champion"}
    assert "perplexity 23.3 > 7.1" in failed["perplexity-vs-champion"]

    dear = _register("llm-chat", models.models["tiny"], models.tokenizer, {**good, "cost_per_1k_tokens": 0.05})
    registry.approve(client, "llm-chat", dear, "reviewer")
    refused = promote(client, rules, audit, "llm-chat", dear, "champion", actor="ci", limits=limits.model_dump())
    assert {v.rule for v in refused.verdicts if not v.passed} == {"cost-per-1k-tokens"}
    assert client.get_model_version_by_alias("llm-chat", "champion").version == first


def test_an_llm_version_carries_its_gguf_and_tokenizer_and_is_served_by_alias(mlflow_server, models, tmp_path):
    import mlflow

    mlflow.set_tracking_uri(mlflow_server.uri)
    version = _register("llm-served", models.models["tiny"], models.tokenizer, {"perplexity": 23.0})
    MlflowClient(mlflow_server.uri).set_registered_model_alias("llm-served", "champion", version)
    gguf = download_gguf("models:/llm-served@champion", tmp_path)
    assert gguf.read_bytes() == models.models["tiny"].read_bytes()
    tokenizer = next(tmp_path.rglob("tokenizer.json"))
    assert json.loads(tokenizer.read_text())["model"]["type"] == "BPE"
    tags = MlflowClient(mlflow_server.uri).get_model_version("llm-served", version).tags
    assert tags["platform.mlops/kind"] == "llm" and tags["training_data_digest"].startswith("sha256:")


def test_an_llm_without_its_blueprint_limits_is_a_configuration_error_naming_the_fix(mlflow_server, models, tmp_path):
    import mlflow

    from services.promotion_gate.rules import RuleFileError

    mlflow.set_tracking_uri(mlflow_server.uri)
    metrics = {
        "perplexity": 6.0,
        "time_to_first_token_seconds": 0.1,
        "seconds_per_output_token": 0.01,
        "cost_per_1k_tokens": 0.001,
    }
    version = _register("llm-unlimited", models.models["tiny"], models.tokenizer, metrics)
    with pytest.raises(RuleFileError, match="--blueprint"):
        promote(
            MlflowClient(mlflow_server.uri),
            load_rules(),
            AuditLog(tmp_path / "a.jsonl"),
            "llm-unlimited",
            version,
            "champion",
        )


def test_model_prices_and_the_cost_per_1k_tokens_agree():
    assert LLMPrices(inputPer1k=0.002, outputPer1k=0.004).cost(1000, 500) == pytest.approx(0.004)
