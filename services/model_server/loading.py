"""From the registry to a model ready to predict.

`resolve()` asks the registry which version an alias points at; `load()` downloads that version's
artifacts and builds a `LoadedModel`: the native scikit-learn estimator when the model has the
sklearn flavor (the fast path: numpy in, numpy out, no pandas, no schema enforcement layer), else
MLflow's generic pyfunc (any flavor; a DataFrame built from the validated batch). The signature and
the training reference distribution (reference.py) travel with it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.model_server.codec import Signature
from services.model_server.reference import ARTIFACT_PATH, FeatureReference, from_json
from services.model_server.uris import ModelRef

__all__ = ["LoadedModel", "resolve", "load", "cache_dir"]

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
    flavor: str  # "sklearn" (native fast path) or "pyfunc"
    predict: Callable[[np.ndarray], np.ndarray]
    signature: Signature | None
    classes: tuple[str, ...] | None = None  # classifiers: bounded prediction labels
    reference: dict[str, FeatureReference] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)


def resolve(ref: ModelRef, client=None) -> tuple[str, str | None]:
    """(version, run id) the reference points at right now."""
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient()
    if ref.alias:
        version = client.get_model_version_by_alias(ref.name, ref.alias)
    else:
        version = client.get_model_version(ref.name, ref.version)
    return str(version.version), version.run_id


def load(name: str, version: str, run_id: str | None) -> LoadedModel:
    import mlflow
    from mlflow.models import Model

    target = cache_dir() / name / version
    target.mkdir(parents=True, exist_ok=True)
    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(target)))
    meta = Model.load(str(path / "MLmodel"))
    signature = Signature.from_mlflow(meta.signature)
    classes = None
    if "sklearn" in meta.flavors:
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(str(path))
        predict = estimator.predict
        flavor = "sklearn"
        if hasattr(estimator, "classes_") and len(estimator.classes_) <= 50:
            classes = tuple(str(c) for c in estimator.classes_)
    else:
        import pandas as pd

        pyfunc = mlflow.pyfunc.load_model(str(path))
        columns = list(signature.columns) if signature else None

        def predict(batch: np.ndarray) -> np.ndarray:
            return np.asarray(pyfunc.predict(pd.DataFrame(batch, columns=columns)))

        flavor = "pyfunc"
    reference = _load_reference(run_id)
    log.info("loaded %s version %s (%s, %d reference features)", name, version, flavor, len(reference))
    return LoadedModel(
        name=name,
        version=version,
        run_id=run_id,
        flavor=flavor,
        predict=predict,
        signature=signature,
        classes=classes,
        reference=reference,
    )


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
