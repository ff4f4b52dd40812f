"""From the registry to a model ready to predict.

`resolve()` asks the registry which version an alias points at; `load()` downloads that version's
artifacts and `load_from_dir()` builds a `LoadedModel` from them: the native scikit-learn estimator
when the model has the sklearn flavor (the fast path: numpy in, numpy out, no pandas, no schema
enforcement layer), else MLflow's generic pyfunc (any flavor; a DataFrame built from the validated
batch). The signature and the training reference distribution (reference.py) travel with it.

`load_from_dir` reads the MLmodel file and deserialises a scikit-learn model without importing MLflow
(as MLflow's own sklearn loader does: skops, pickle or cloudpickle, as the MLmodel file says), so a
short-lived process that fetched the files another way (batch scoring, services/batch/model.py) does
not pay MLflow's import (about a second and 170 MB) for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.model_server.batching import MicroBatcher
from services.model_server.codec import Signature
from services.model_server.fastpath import verified_fast_predict
from services.model_server.plugins import without_feast_plugin
from services.model_server.reference import ARTIFACT_PATH, FeatureReference, from_json
from services.model_server.tensors import MLFLOW_DATATYPES, OUTPUT, TensorSpec, datatype_of
from services.model_server.uris import ModelRef

__all__ = ["LoadedModel", "resolve", "load", "load_from_dir", "read_mlmodel", "cache_dir"]

log = logging.getLogger("mlplat.model_server")

# sklearn warns on every numpy call to a model fitted on a DataFrame; the columns are already
# validated against the signature and passed in its order, so the warning carries no information.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


def cache_dir() -> Path:
    return Path(os.environ.get("MLPLAT_MODEL_CACHE") or Path(tempfile.gettempdir()) / "mlplat-models")


@dataclass
class LoadedModel:
    name: str
    version: str
    run_id: str | None
    flavor: str  # "sklearn-linear" (compiled), "sklearn" (native estimator) or "pyfunc"
    predict: Callable[[np.ndarray], np.ndarray]
    signature: Signature | None
    classes: tuple[str, ...] | None = None  # classifiers: bounded prediction labels
    reference: dict[str, FeatureReference] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)
    batcher: MicroBatcher | None = None  # set by the slot that serves it when micro-batching applies
    # What the metadata declares and every V2 answer carries (measured at load: `_output_spec`).
    output: TensorSpec = field(default_factory=lambda: TensorSpec(OUTPUT, "FP64", (-1,)))


def resolve(ref: ModelRef, client=None) -> tuple[str, str | None, dict[str, str]]:
    """(version, run id, version tags) the reference points at right now."""
    from mlflow.tracking import MlflowClient

    without_feast_plugin()
    client = client or MlflowClient()
    if ref.alias:
        version = client.get_model_version_by_alias(ref.name, ref.alias)
    else:
        version = client.get_model_version(ref.name, ref.version)
    return str(version.version), version.run_id, dict(version.tags or {})


def load(name: str, version: str, run_id: str | None) -> LoadedModel:
    import mlflow

    without_feast_plugin()
    target = cache_dir() / name / version
    target.mkdir(parents=True, exist_ok=True)
    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(target)))
    return load_from_dir(path, name, version, run_id, _load_reference(run_id))


def read_mlmodel(path: Path) -> dict:
    import yaml

    return yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8")) or {}


def load_from_dir(
    path: Path, name: str, version: str, run_id: str | None, reference: dict[str, FeatureReference]
) -> LoadedModel:
    """A model version whose artifacts are in `path` (the folder holding its MLmodel file)."""
    meta = read_mlmodel(path)
    signature = Signature.from_mlmodel(meta)
    samples = _samples(path, signature, reference)
    classes = None
    sklearn_conf = (meta.get("flavors") or {}).get("sklearn")
    if sklearn_conf is not None:
        estimator = _load_sklearn(path, sklearn_conf)
        predict, compiled = verified_fast_predict(estimator, samples)
        flavor = "sklearn-linear" if compiled else "sklearn"
        if hasattr(estimator, "classes_") and len(estimator.classes_) <= 50:
            classes = tuple(str(c) for c in estimator.classes_)
    else:
        import mlflow
        import pandas as pd

        pyfunc = mlflow.pyfunc.load_model(str(path))
        columns = list(signature.columns) if signature else None

        def predict(batch: np.ndarray) -> np.ndarray:
            return np.asarray(pyfunc.predict(pd.DataFrame(batch, columns=columns)))

        flavor = "pyfunc"
    output = _output_spec(predict, samples, meta)
    log.info(
        "loaded %s version %s (%s, %d reference features, output %s %s)",
        name,
        version,
        flavor,
        len(reference),
        output.datatype,
        list(output.shape),
    )
    return LoadedModel(
        name=name,
        version=version,
        run_id=run_id,
        flavor=flavor,
        predict=predict,
        signature=signature,
        classes=classes,
        reference=reference,
        output=output,
    )


def _output_spec(predict: Callable[[np.ndarray], np.ndarray], samples: np.ndarray, meta: dict) -> TensorSpec:
    """The output's datatype and shape, measured on a prediction of two sample rows: what the model
    really answers (an iris classifier trained on integer labels answers INT64, a regressor FP64,
    string labels BYTES). When the model cannot predict the samples, the MLmodel signature's
    declared output; failing both, FP64."""
    if samples.size:
        try:
            return TensorSpec.of(OUTPUT, np.asarray(predict(samples[:2])))
        except Exception as exc:  # a pyfunc that refuses random rows: fall back to what it declares
            log.info("cannot measure the output on sample rows (%s): using the declared one", type(exc).__name__)
    import json

    try:
        declared = json.loads((meta.get("signature") or {}).get("outputs") or "[]")
    except ValueError:
        declared = []
    if len(declared) == 1:
        spec = declared[0]
        if spec.get("type") == "tensor":
            tensor = spec.get("tensor-spec") or {}
            shape = tuple(tensor.get("shape") or (-1,))
            with contextlib.suppress(TypeError):
                return TensorSpec(OUTPUT, datatype_of(np.dtype(tensor.get("dtype"))), (-1, *shape[1:]))
        elif spec.get("type") in MLFLOW_DATATYPES:
            return TensorSpec(OUTPUT, MLFLOW_DATATYPES[spec["type"]], (-1,))
    return TensorSpec(OUTPUT, "FP64", (-1,))


def _load_sklearn(path: Path, conf: dict):
    """The estimator, deserialised the way `mlflow.sklearn.load_model` does it (MLflow's model format:
    `pickled_model` names the file, `serialization_format` says how it was written)."""
    if conf.get("code"):  # models that ship their own code need MLflow to put it on the import path
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(path))
    if os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").strip().lower() in ("false", "0"):
        raise ValueError(
            f"{path}: MLFLOW_ALLOW_PICKLE_DESERIALIZATION forbids loading serialised models; "
            "set it to true for models from a trusted registry"
        )
    file = path / conf.get("pickled_model", "model.pkl")
    kind = conf.get("serialization_format", "pickle")  # MLflow's default for files that do not say
    if kind == "skops":
        import skops.io

        return skops.io.load(file, trusted=conf.get("skops_trusted_types"))
    with open(file, "rb") as handle:
        if kind == "pickle":
            import pickle

            return pickle.load(handle)
        if kind == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(handle)
    raise ValueError(f"{path}/MLmodel: unknown sklearn serialization_format {kind!r} (skops, pickle, cloudpickle)")


def _load_reference(run_id: str | None) -> dict[str, FeatureReference]:
    if not run_id:
        return {}
    import mlflow

    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{ARTIFACT_PATH}")
    except Exception as exc:  # MLflow raises several types for "no such artifact"
        log.info("no reference distribution for run %s (%s): drift is not measured", run_id, type(exc).__name__)
        return {}
    return from_json(text)


def _samples(path: Path, signature: Signature | None, reference: dict[str, FeatureReference]) -> np.ndarray:
    """Rows to verify a compiled predict against the estimator: the input example, plus random
    rows spread over the training range when a reference distribution exists."""
    import json

    rows: list[list[float]] = []
    example = path / "input_example.json"
    if example.is_file() and signature is not None:
        try:
            document = json.loads(example.read_text())
            columns = document.get("columns") or list(signature.columns)
            data = document.get("data") or []
            order = [columns.index(c) for c in signature.columns]
            rows = [[float(row[i]) for i in order] for row in data]
        except (ValueError, KeyError, TypeError, AttributeError):
            rows = []
    if reference and signature is not None and all(c in reference for c in signature.columns):
        generator = np.random.default_rng(0)
        columns = []
        for name in signature.columns:
            edges = reference[name].edges
            low, high = (float(edges[0]), float(edges[-1])) if edges.size else (0.0, 1.0)
            span = (high - low) or 1.0
            columns.append(generator.uniform(low - span, high + span, size=256))
        rows += np.column_stack(columns).tolist()
    if not rows and signature is not None:
        rows = np.random.default_rng(0).normal(size=(64, len(signature.columns))).tolist()
    return np.asarray(rows, dtype=np.float64) if rows else np.empty((0, 0))
