"""What the demo's steps do to the platform: make data, train and register, send traffic, run a job, wait.

The data is iris (it ships with scikit-learn) for a model that takes its features in the request; a
feature store's views are filled with the generated example that matches them (flowers or customers,
services/features/examples.py), and a model that reads a feature service is trained on its labelled
entities and asked with their keys. Every model is a small LogisticRegression logged with what the
promotion gate checks (metrics, signature, input example, the reference feature distribution, lineage
tags, a description).
"""

from __future__ import annotations

import io
import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.demo.running import DemoError
from services.features.names import FEATURE_SERVICE_TAG

if TYPE_CHECKING:
    from services.demo.walk import Walk
    from services.features.examples import Example

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TAGS = {"training_data_digest": "sklearn:iris", "code_version": "demo"}


def example(tenant, view, step: str = "features") -> Example:
    """The generated data (services/features/examples.py) that fills a feature view, by its key and features."""
    from services.features.examples import EXAMPLES, example_for

    store = tenant.features
    keys, features = [store.entity(e).key for e in view.entities], [f.name for f in view.features]
    found = example_for(keys, features)
    if found is None:
        known = "; ".join(f"{e.entity}: {e.key} and {', '.join(e.features)}" for e in EXAMPLES)
        raise DemoError(
            f"step {step}: tenant {tenant.name!r}: view {view.name!r} ({', '.join(keys)} and {', '.join(features)}) "
            f"is not one the demo generates data for ({known}); write its Parquet file to "
            f"{tenant.name}'s feature data ({view.source.path}) and run its materialization"
        )
    return found


def feature_store(walk: Walk, tenant) -> dict:
    """Write the tenant's offline feature data (each view's generated example) and materialize it, as its
    schedule would; returns what was done."""
    store = tenant.features
    for view in store.feature_views:
        data = example(tenant, view)
        path = walk.platform.feature_data(tenant.name) / view.source.path
        gone = erased(walk, tenant, data)
        path.parent.mkdir(parents=True, exist_ok=True)
        data.offline(walk.now, view.source.timestamp_field, without=gone).to_parquet(path)
        walk.say(f"[features] {tenant.name}/{view.name}: {data.describe()}, written to {path}{_left_out(data, gone)}")
    schedule = next((s for s in walk.platform.schedules("features") if s["name"] == f"features-{tenant.name}"), None)
    if schedule is None:
        raise DemoError(f"step features: the platform does not schedule {tenant.name}'s materialization")
    run = walk.platform.run_now(schedule)
    if run.returncode != 0:
        raise DemoError(f"step features: materializing {tenant.name}'s features failed:\n{run.stderr[-2000:]}")
    walk.say(f"    {run.stdout.strip().splitlines()[-1]} (schedule {schedule['schedule']!r})")
    return {"views": [v.name for v in store.feature_views], "materialized": True}


def erased(walk: Walk, tenant, data: Example) -> set[int]:
    """The example's keys of people an earlier erasure removed (the audit log names them by digest): the
    demo neither writes their rows back nor asks for them."""
    from services.compliance.lineage import subject_digest

    if not any(e.subject and e.key == data.key for e in tenant.features.entities):
        return set()
    digests = {
        e.get("subject")
        for e in walk.platform.audit_entries()
        if e.get("event") == "erasure" and e.get("tenant") == tenant.name
    }
    return {k for k in range(1, data.count + 1) if subject_digest(tenant.name, data.key, k) in digests}


def _left_out(data: Example, gone: set[int]) -> str:
    return f" (left out, erased earlier: {', '.join(f'{data.key} {k}' for k in sorted(gone))})" if gone else ""


def service_example(tenant, service: str) -> Example:
    """The example a feature service's labels come from: its first view's (the demo's services read one view)."""
    store = tenant.features
    return example(tenant, store.view(store.service(service).feature_views[0]))


def training_inputs(walk: Walk, tenant, model):
    """(features, labels, feature service, subjects): iris as is, or, for a model that reads a feature
    service, the point-in-time-correct historical features of every labelled entity
    (get_historical_features), with the join keys of the people among them (entities with `subject: true`),
    whose lineage the run records so an erasure finds the versions trained on a person (ADR 0024)."""
    import pandas as pd

    if model.features is None:
        return pd.DataFrame(walk.x, columns=FEATURES), walk.y, None, None
    from services.features.store import historical_features

    service = model.features.service
    data = service_example(tenant, service)
    columns = [f.name for _, f in tenant.features.service_features(service)]
    labelled = data.labelled(walk.now, without=erased(walk, tenant, data))
    rows = historical_features(walk.platform.feature_repo(tenant.name), service, labelled)
    walk.say(
        f"    {len(rows)} training rows from feature service {service!r}: each label joined with the "
        f"{data.entity}'s features as they were before it (point-in-time correct)"
    )
    store = tenant.features
    people = sorted(
        {
            store.entity(e).key
            for view in store.service(service).feature_views
            for e in store.view(view).entities
            if store.entity(e).subject
        }
    )
    return rows[columns], rows[data.target].to_numpy(), service, rows[people] if people else None


def register(name: str, owner: str, frame, y: np.ndarray, service: str | None, subjects, c: float) -> str:
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from services.compliance.lineage import record_training_subjects
    from services.model_server.reference import log_reference

    train_x, test_x, train_y, test_y = train_test_split(frame, y, test_size=0.3, random_state=0, stratify=y)
    estimator = LogisticRegression(C=c, max_iter=500).fit(train_x, train_y)
    mlflow.set_experiment(f"{owner}-{name}")
    with mlflow.start_run():
        params = {"C": c, "model": "LogisticRegression", **({"feature_service": service} if service else {})}
        mlflow.log_params(params)
        mlflow.log_metric("accuracy", float(estimator.score(test_x, test_y)))
        log_reference(train_x)
        if subjects is not None:
            record_training_subjects(owner, subjects, list(subjects.columns))
        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            signature=infer_signature(train_x, train_y),
            input_example=train_x.head(3),
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    client = mlflow.tracking.MlflowClient()
    tags = {**TAGS, "owner": owner}
    if service:  # the serving side checks it: a version is served only from the service it was trained on
        tags.update({FEATURE_SERVICE_TAG: service, "training_data_digest": f"feast:{owner}/{service}"})
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(
        name,
        version,
        description=(
            f"Demo {name} for {owner}: LogisticRegression (C={c}) on "
            f"{f'feature service {service}' if service else 'iris'}. Intended for the platform walkthrough."
        ),
    )
    return version


def traffic(server: str, model: str, x: np.ndarray, y: np.ndarray, requests: int = 60) -> int:
    url = f"{server}/models/{model}/invocations"
    wait_served(server, model)
    correct = 0
    for index in range(requests):
        row = index % len(x)
        answer = post(url, {"dataframe_split": {"columns": FEATURES, "data": [x[row].tolist()]}})
        correct += int(answer["predictions"][0] == int(y[row]))
    if correct < 0.8 * requests:
        raise DemoError(f"step serve: {model}: only {correct}/{requests} answers match the iris labels")
    return requests


def entity_traffic(walk: Walk, tenant, model, server: str, requests: int = 60) -> int:
    """Requests that carry only an entity key: the server fetches the entity's online features. Each answer
    is checked against the entity's newest label."""
    data = service_example(tenant, model.features.service)
    gone = erased(walk, tenant, data)
    answers = data.answers(walk.now, without=gone)
    keys = sorted(answers)
    wait_served(server, model.name)
    url, correct = f"{server}/v2/models/{model.name}/infer", 0
    for index in range(requests):
        key = keys[index % len(keys)]
        body = {"inputs": [{"name": data.key, "shape": [1], "datatype": "INT64", "data": [key]}]}
        correct += int(post(url, body)["outputs"][0]["data"][0] == answers[key])
    if correct < 0.8 * requests:
        raise DemoError(
            f"step serve: {model.name}: only {correct}/{requests} answers from {data.key}s match the labels"
        )
    walk.say(
        f"    {model.name}: {requests} requests carrying only a {data.key}, features fetched from the online "
        f"store; {correct} answers match the {data.entity}s' labels{_left_out(data, gone)}"
    )
    return requests


def batch_once(walk: Walk, schedule: dict) -> dict:
    """Run a batch job once, as its schedule would, on an input with a few bad rows in it."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    command = schedule["command"]
    source, output = command[command.index("--input") + 1], command[command.index("--output") + 1]
    rejects_path = str(Path(output).with_name(f"{Path(output).stem}.rejects.csv"))
    walk.say(f"[batch] {schedule['name']} (schedule {schedule['schedule']!r}): scoring {Path(source).name} once now")
    # iris, repeated until the two bad rows (one with missing values, one that is not numbers) stay within the
    # job's reject ratio: the run must succeed and still show its rejects
    ratio = float(command[command.index("--max-reject-ratio") + 1]) if "--max-reject-ratio" in command else 0.01
    bad = [[None] * len(FEATURES), ["abc"] * len(FEATURES)] if ratio > 0 else []
    copies = max(1, math.ceil((len(bad) / ratio - len(bad)) / len(walk.x))) if bad else 1
    rows = [[f"{v:g}" for v in row] for row in walk.x] * copies + bad
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(FEATURES)})
    data = io.BytesIO()
    if source.endswith(".parquet"):
        pq.write_table(table, data)
    else:
        pa_csv.write_csv(table, data, pa_csv.WriteOptions(quoting_style="none"))
    try:
        walk.platform.write(schedule, source, data.getvalue())
        run = walk.platform.run_now(schedule)
        if run.returncode != 0:
            raise DemoError(f"step batch: batch job {schedule['name']} failed:\n{run.stderr[-2000:]}")
        rejects = walk.platform.read(schedule, rejects_path).decode().splitlines()[1:]
        scored = (
            pq.read_metadata(io.BytesIO(walk.platform.read(schedule, output))).num_rows
            if output.endswith(".parquet")
            else None
        )
    finally:  # on a cluster, the pod that moved the files holds CPU the retraining run needs
        walk.platform.done_with(schedule)
    walk.say(f"    {scored} rows scored into {output}; {len(rejects)} rejected with their reasons:")
    for line in rejects:
        walk.say(f"      {line}")
    return {"job": schedule["name"], "scored": scored, "rejected": len(rejects), "output": str(output)}


def drift_alert(server: str, model: str, prometheus: str, x: np.ndarray, timeout: float) -> dict:
    drifted = (x * 3).tolist()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        post(f"{server}/models/{model}/invocations", {"instances": drifted})
        for alert in alerts(prometheus):
            if alert["labels"].get("alertname") == "ModelFeatureDrift" and alert["state"] == "firing":
                return alert
        time.sleep(5)
    raise DemoError(
        f"step drift: the drift alert did not fire within {timeout:.0f}s; "
        f"check {prometheus}/alerts and the Prometheus log"
    )


def challenger_share(server: str, model: str, x: np.ndarray, requests: int = 400) -> float:
    challenger = 0
    body = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [x[0].tolist()]}}).encode()
    for _ in range(requests):
        request = urllib.request.Request(
            f"{server}/models/{model}/invocations", data=body, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            challenger += response.headers.get("x-model-variant") == "challenger"
    return challenger / requests


def wait(check: Callable[[], object], deadline: float):
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise DemoError("the retraining loop did not complete in time; see the training trigger's log")


def wait_served(server: str, model: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the server polls the registry every few seconds
        if status(f"{server}/v2/models/{model}/ready") == 200:
            return
        time.sleep(1)
    raise DemoError(f"step serve: {model} was not served by {server} within 60 s; see the model server's log")


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def alerts(prometheus: str) -> list[dict]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/alerts", timeout=5) as response:
        return json.load(response)["data"]["alerts"]


def indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
