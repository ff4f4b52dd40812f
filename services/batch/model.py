"""The model a batch run scores with: resolved and fetched over MLflow's REST API, loaded without MLflow.

A batch run is a short process, so its start-up is part of its cost: importing MLflow's client takes
about a second and 170 MB, as long as scoring a million rows. The platform's registries serve
artifacts through MLflow's proxy (`mlflow server --serve-artifacts`, `mlflow-artifacts:` URIs), so a
handful of documented REST calls get everything a run needs:

    GET /api/2.0/mlflow/registered-models/alias        alias -> version and run id
    GET /api/2.0/mlflow/model-versions/get-download-uri version -> its artifact location
    GET /api/2.0/mlflow-artifacts/artifacts/<path>      MLmodel, the serialised model, input example
    GET /api/2.0/mlflow/runs/get                       the run's artifact location (reference distribution)

and `loading.load_from_dir` turns the files into the model server's `LoadedModel`. A registry that
is not a server (a `sqlite:///` or file store, services/registry/address.py), one that stores artifacts
anywhere else (S3, a shared file system), and any flavor other than scikit-learn go through MLflow's own
client instead (`loading.load`): slower to start, same result.

Credentials as MLflow's client reads them: MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME
and MLFLOW_TRACKING_PASSWORD (basic).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from services.model_server.loading import LoadedModel, cache_dir, load_from_dir, read_mlmodel
from services.model_server.reference import ARTIFACT_PATH, FeatureReference, from_json
from services.model_server.uris import ModelRef
from services.registry.address import is_server

__all__ = ["RegistryError", "fetch_model"]

_PROXY = "mlflow-artifacts:"


class RegistryError(RuntimeError):
    """The registry could not resolve or serve the model; the message says what was asked."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status  # the HTTP status, 0 when the registry did not answer


def fetch_model(ref: ModelRef, tracking_uri: str) -> LoadedModel:
    if not is_server(tracking_uri):
        return _resolved_by_mlflow_client(ref, tracking_uri)
    registry = _Registry(tracking_uri)
    if ref.alias:
        version = registry.get("registered-models/alias", name=ref.name, alias=ref.alias)["model_version"]
    else:
        version = registry.get("model-versions/get", name=ref.name, version=ref.version)["model_version"]
    number, run_id = str(version["version"]), version.get("run_id") or None
    location = registry.get("model-versions/get-download-uri", name=ref.name, version=number)["artifact_uri"]
    if not location.startswith(_PROXY):
        return _with_mlflow_client(ref.name, number, run_id, tracking_uri)
    target = cache_dir() / ref.name / number
    target.mkdir(parents=True, exist_ok=True)
    (target / "MLmodel").write_bytes(registry.artifact(location, "MLmodel"))
    sklearn = (read_mlmodel(target).get("flavors") or {}).get("sklearn")
    if sklearn is None or sklearn.get("code"):
        return _with_mlflow_client(ref.name, number, run_id, tracking_uri)
    for name in (sklearn["pickled_model"], "input_example.json"):
        data = registry.artifact(location, name, missing_ok=name == "input_example.json")
        if data is not None:
            (target / name).write_bytes(data)
    return load_from_dir(target, ref.name, number, run_id, _reference(registry, run_id))


def _with_mlflow_client(name: str, version: str, run_id: str | None, tracking_uri: str) -> LoadedModel:
    import mlflow

    from services.model_server.loading import load

    mlflow.set_tracking_uri(tracking_uri)
    return load(name, version, run_id)


def _resolved_by_mlflow_client(ref: ModelRef, tracking_uri: str) -> LoadedModel:
    """The general path: MLflow's client resolves the alias and loads the model from any store it opens."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        if ref.alias:
            version = client.get_model_version_by_alias(ref.name, ref.alias)
        else:
            version = client.get_model_version(ref.name, str(ref.version))
    except MlflowException as exc:
        raise RegistryError(f"the registry at {tracking_uri} could not resolve {ref.uri}: {exc.message}") from None
    return _with_mlflow_client(ref.name, str(version.version), version.run_id or None, tracking_uri)


def _reference(registry: _Registry, run_id: str | None) -> dict[str, FeatureReference]:
    if not run_id:
        return {}
    location = registry.get("runs/get", run_id=run_id)["run"]["info"]["artifact_uri"]
    if not location.startswith(_PROXY):
        return {}
    data = registry.artifact(location, ARTIFACT_PATH, missing_ok=True)
    return from_json(data.decode()) if data is not None else {}


class _Registry:
    def __init__(self, tracking_uri: str):
        self.base = tracking_uri.rstrip("/")
        self.headers = {}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            self.headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def get(self, endpoint: str, **query: str) -> dict[str, Any]:
        url = f"{self.base}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        return json.loads(self._fetch(url, ""))

    def artifact(self, location: str, name: str, *, missing_ok: bool = False) -> bytes | None:
        parsed = urllib.parse.urlparse(location)
        base = f"{urllib.parse.urlparse(self.base).scheme}://{parsed.netloc}" if parsed.netloc else self.base
        path = urllib.parse.quote(f"{parsed.path.strip('/')}/{name}")
        url = f"{base}/api/2.0/mlflow-artifacts/artifacts/{path}"
        try:
            return self._fetch(url, f"artifact {name} of {location}: ")
        except RegistryError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise

    def _fetch(self, url: str, prefix: str) -> bytes:
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):  # MLflow's JSON error, when it is one
                detail = json.loads(detail).get("message", detail)
            answer = f"{detail.strip() or exc.reason} (HTTP {exc.code})"
            raise RegistryError(f"{prefix}the registry at {self.base} answered: {answer}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"{prefix}the registry at {self.base} is not reachable ({reason})") from None
