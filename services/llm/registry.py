"""LLMs in the model registry: an MLflow model carrying the GGUF and its tokenizer.

An LLM version is registered like any model (services/training/): a run with its metrics (the ones
evaluate.py measures) and params, a pyfunc model whose artifacts are the GGUF file and
`tokenizer.json`, a signature and an input example, the tags the gate requires (owner,
training_data_digest, code_version) and `platform.mlops/kind=llm`, which makes the gate apply the LLM
rules (policies/promotion/llm-rules.yaml). The pyfunc wrapper makes the version usable from MLflow
as well (`mlflow.pyfunc.load_model(...).predict(["prompt"])` generates with llama.cpp), but the
platform serves it with llama.cpp's own server: `fetch_gguf` downloads the artifact behind
`models:/<name>@<alias>` and the backend opens it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc

__all__ = ["KIND_TAG", "GGUFModel", "RegisteredLLM", "register_llm", "download_gguf", "file_digest"]

KIND_TAG = "platform.mlops/kind"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return f"sha256:{h.hexdigest()}"


class GGUFModel(mlflow.pyfunc.PythonModel):
    """pyfunc access to the GGUF: one completion per input prompt (greedy, 32 tokens at most)."""

    def load_context(self, context) -> None:
        from llama_cpp import Llama

        self._llm = Llama(context.artifacts["gguf"], n_ctx=1024, n_threads=1, verbose=False)

    def predict(self, context, model_input, params=None):
        prompts = model_input.iloc[:, 0].tolist() if hasattr(model_input, "iloc") else list(model_input)
        return [self._llm.create_completion(p, max_tokens=32, temperature=0)["choices"][0]["text"] for p in prompts]


def _engine_version() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")


@dataclass(frozen=True)
class RegisteredLLM:
    name: str
    version: str
    run_id: str


def register_llm(
    name: str,
    tenant: str,
    gguf: Path,
    tokenizer: Path | None,
    metrics: dict[str, float],
    *,
    description: str,
    params: dict[str, Any] | None = None,
    code_version: str = "unknown",
) -> RegisteredLLM:
    """Log a run with the metrics and the model, and register a new version of `name`."""
    import pandas as pd
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    example = pd.DataFrame({"prompt": ["The gateway routes every request"]})
    signature = infer_signature(example, ["completion text"])
    artifacts = {"gguf": str(gguf)}
    if tokenizer is not None:
        artifacts["tokenizer"] = str(tokenizer)
    mlflow.set_experiment(f"{tenant}-{name}")
    with mlflow.start_run(run_name=f"register-{name}") as run:
        mlflow.log_params({"gguf": gguf.name, **(params or {})})
        mlflow.log_metrics(metrics)
        mlflow.set_tags({"owner": tenant, KIND_TAG: "llm"})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=GGUFModel(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            registered_model_name=name,
            # named, not inferred: inference runs the model in a subprocess to watch its imports
            pip_requirements=[f"llama-cpp-python=={_engine_version()}"],
        )
    client = MlflowClient()
    version = str(info.registered_model_version)
    tags = {
        "owner": tenant,
        "training_data_digest": file_digest(gguf),
        "code_version": code_version,
        KIND_TAG: "llm",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=description)
    return RegisteredLLM(name, version, run.info.run_id)


def download_gguf(model_uri: str, directory: Path) -> Path:
    """The GGUF behind `models:/<name>@<alias>` (or any model URI), downloaded into `directory`."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(directory)))
    found = sorted(local.rglob("*.gguf"))
    if not found:
        raise FileNotFoundError(
            f"{model_uri}: the model has no .gguf artifact; register LLMs with `mlplat llm register`"
        )
    return found[0]
