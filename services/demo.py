"""`mlplat demo`: the model lifecycle, end to end, on a running standalone platform.

For every tenant and each of its models, signed in to the registry as the tenant's own user (ADR
0017): train a small scikit-learn model on iris (it ships with scikit-learn), log metrics, signature,
input example and the reference feature distribution, register it; as the gate's user, approve it
and let the gate promote it to champion; register a second version and promote it to the challenger
alias (the blueprint's canary weight sends it a share of traffic); send traffic and check the
answers; run each batch job once on a file with a few bad rows; then send drifted traffic and wait
until Prometheus fires the drift alert. Last, the loop closes by itself: Alertmanager calls the
training trigger, a training run registers a new version, the gate passes it, and the model server
serves it as the challenger. Each step prints what it does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from blueprints.schema import Blueprint
from services.features.names import FEATURE_SERVICE_TAG
from services.registry.access import GATE, tenant_user
from services.registry.credentials import (
    PASSWORD_ENV,
    USERNAME_ENV,
    Credentials,
    CredentialsError,
    acting_as,
    credentials_file,
    read_credentials,
    standalone_credentials_dir,
)

__all__ = ["Demo", "DemoError", "platform_urls"]

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TAGS = {"training_data_digest": "sklearn:iris", "code_version": "demo"}


class DemoError(RuntimeError):
    pass


def platform_urls(root: Path) -> dict[str, dict]:
    state = root / "standalone.json"
    if not state.is_file():
        raise DemoError(f"no standalone platform is running from {root}/: start it with `make up` first")
    return {c["name"]: c for c in json.loads(state.read_text())["components"]}


def platform_schedules(root: Path) -> list[dict]:
    return json.loads((root / "standalone.json").read_text()).get("schedules", [])


@dataclass
class Demo:
    blueprint: Blueprint
    root: Path
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    drift_timeout: float = 240.0
    retrain_timeout: float = 300.0

    def run(self) -> dict:
        import mlflow

        from services.promotion_gate import registry
        from services.promotion_gate.audit import AuditLog
        from services.promotion_gate.gate import promote
        from services.promotion_gate.rules import load_rules

        components = platform_urls(self.root)
        mlflow.set_tracking_uri(components["mlflow"]["url"])
        client = registry.client(components["mlflow"]["url"])
        rules, audit = load_rules(), AuditLog(self.root / "audit" / "promotions.jsonl")
        gate = self._user(GATE)  # approvals and promotions: the gate's user may move any tenant's alias
        summary: dict = {"promoted": [], "answers": 0, "drift_alert": None, "batch": [], "retrain": None}
        x, y = _iris()
        now = datetime.now(UTC).replace(microsecond=0)
        features = {t.name: self._feature_store(t, now) for t in self.blueprint.tenants if t.features is not None}
        summary["features"] = features
        step = 0
        for tenant in self.blueprint.tenants:
            for model in tenant.models:
                step += 1
                self.say(
                    f"[{step}] {tenant.name}/{model.name}: train and register, signed in as {tenant_user(tenant.name)}"
                )
                inputs = self._training_inputs(tenant, model, now, x, y)
                with acting_as(self._user(tenant_user(tenant.name))):
                    first = self._register(model.name, tenant.name, *inputs, c=1.0)
                with acting_as(gate):
                    registry.approve(client, model.name, first, "platform-reviewer")
                    decision = promote(client, rules, audit, model.name, first, model.alias, actor="demo")
                self.say(_indent(decision.table()))
                if not decision.passed:
                    raise DemoError(f"the gate refused {model.name} v{first}; see the table above")
                summary["promoted"].append((model.name, first, model.alias))
                if model.canary_weight:
                    with acting_as(self._user(tenant_user(tenant.name))):
                        second = self._register(model.name, tenant.name, *inputs, c=0.5)
                    with acting_as(gate):
                        registry.approve(client, model.name, second, "platform-reviewer")
                        challenger = promote(
                            client, rules, audit, model.name, second, model.challenger_alias, actor="demo"
                        )
                    self.say(
                        f"    challenger: version {second} -> @{model.challenger_alias}: "
                        f"{'PASS' if challenger.passed else 'FAIL'} ({model.canary_weight}% of traffic)"
                    )
        self.say("[traffic] waiting for the model servers to pick up the champions, then sending requests")
        for tenant in self.blueprint.tenants:
            server = components.get(f"serving-{tenant.name}")
            if server is None:
                continue
            for model in tenant.models:
                if model.features is not None:
                    summary["answers"] += self._entity_traffic(server["url"], model.name, y)
                else:
                    summary["answers"] += self._traffic(server["url"], model.name, x, y)
        self.say(f"    {summary['answers']} answers checked against the training labels")
        for schedule in platform_schedules(self.root):
            if schedule.get("kind", "batch") == "batch":
                summary["batch"].append(self._batch(schedule, x))
        prometheus = components.get("prometheus")
        if prometheus is None:
            self.say("[drift] Prometheus is not installed: skipping the drift alert (apt-get install prometheus)")
            return summary
        target = next((t, m) for t in self.blueprint.tenants for m in t.models)
        server = components[f"serving-{target[0].name}"]["url"]
        self.say(
            f"[drift] sending drifted inputs to {target[0].name}/{target[1].name} "
            "(every feature scaled x3) and waiting for the alert"
        )
        summary["drift_alert"] = self._drift(server, target[1].name, prometheus["url"], x)
        fired = time.monotonic()
        self.say(
            f"    alert {summary['drift_alert']['labels']['alertname']} is FIRING for "
            f"{summary['drift_alert']['labels'].get('model')} "
            f"(feature {summary['drift_alert']['labels'].get('feature')})"
        )
        summary["retrain"] = self._retrain(target[0].name, target[1], components, server, x, fired)
        return summary

    def _batch(self, schedule: dict, x: np.ndarray) -> dict:
        """Run a batch job once, as its schedule would, on an input with a few bad rows in it."""
        import pyarrow as pa
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq

        command = schedule["command"]
        source = Path(command[command.index("--input") + 1])
        output = Path(command[command.index("--output") + 1])
        self.say(f"[batch] {schedule['name']} (schedule {schedule['schedule']!r}): scoring {source.name} once now")
        columns = {name: [f"{v:g}" for v in x[:, i]] + [None, "abc"] for i, name in enumerate(FEATURES)}
        table = pa.table(columns)  # 150 iris rows, then one with missing values and one that is not numbers
        source.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".parquet":
            pq.write_table(table, source)
        else:
            pa_csv.write_csv(table, source, pa_csv.WriteOptions(quoting_style="none"))
        env = {k: v for k, v in os.environ.items() if k not in (USERNAME_ENV, PASSWORD_ENV)}  # the job's own user
        env.update(schedule.get("env", {}))
        run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise DemoError(f"batch job {schedule['name']} failed:\n{run.stderr[-2000:]}")
        rejects = output.with_name(f"{output.stem}.rejects.csv").read_text().splitlines()[1:]
        scored = pq.read_metadata(output).num_rows if output.suffix == ".parquet" else None
        self.say(f"    {scored} rows scored into {output}; {len(rejects)} rejected with their reasons:")
        for line in rejects:
            self.say(f"      {line}")
        return {"job": schedule["name"], "scored": scored, "rejected": len(rejects), "output": str(output)}

    def _retrain(self, tenant: str, model, components: dict, server: str, x: np.ndarray, fired: float) -> dict | None:
        """The loop closes: the alert reaches the training trigger, a run registers a version, the gate
        makes it the challenger, and the model server serves it a share of traffic."""
        from services.promotion_gate.audit import AuditLog

        if model.training is None or "drift" not in model.training.triggers or "training-trigger" not in components:
            self.say(f"[retrain] skipped: {tenant}/{model.name} is not retrained on drift in this blueprint")
            return None
        self.say(
            f"[retrain] Alertmanager routes the alert to the training trigger; waiting for the run, the gate and "
            f"the model server (up to {self.retrain_timeout:.0f}s)"
        )
        audit = AuditLog(self.root / "audit" / "promotions.jsonl")
        deadline = time.monotonic() + self.retrain_timeout

        def entry(event: str, **match) -> dict | None:
            wanted = {"event": event, "model": model.name, **match}
            return next((e for e in audit.entries() if all(e.get(k) == v for k, v in wanted.items())), None)

        started = self._wait(lambda: entry("training-trigger", decision="started", trigger="drift"), deadline)
        self.say(
            f"    +{time.monotonic() - fired:.0f}s trigger: alert {started['fingerprint']} started training run "
            f"{started['run_id']}"
        )
        finished = self._wait(lambda: entry("training-run", run_id=started["run_id"]), deadline)
        if finished["outcome"] != "succeeded" or finished["gate"] != "pass":
            raise DemoError(f"the retraining did not produce a challenger: {finished}; see {finished.get('where')}")
        version = finished["version"]
        self.say(
            f"    +{time.monotonic() - fired:.0f}s run finished in {finished['seconds']:.0f}s: version {version}, "
            f"gate PASS -> @{model.challenger_alias}"
        )

        def serving() -> bool:
            with urllib.request.urlopen(f"{server}/v2/models/{model.name}", timeout=5) as response:
                variants = json.load(response)["parameters"]["variants"]
            return variants.get("challenger", {}).get("version") == version

        self._wait(serving, deadline)
        seconds = time.monotonic() - fired
        share = self._challenger_share(server, model.name, x)
        self.say(
            f"    +{seconds:.0f}s the model server serves version {version} as the challenger: "
            f"{share:.1%} of 400 requests (canary weight {model.canary_weight}%)"
        )
        return {
            "run_id": started["run_id"],
            "fingerprint": started["fingerprint"],
            "version": version,
            "seconds_to_serving": round(seconds, 1),
            "challenger_share": share,
        }

    def _challenger_share(self, server: str, model: str, x: np.ndarray, requests: int = 400) -> float:
        challenger = 0
        body = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [x[0].tolist()]}}).encode()
        for _ in range(requests):
            request = urllib.request.Request(
                f"{server}/models/{model}/invocations", data=body, headers={"content-type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                challenger += response.headers.get("x-model-variant") == "challenger"
        return challenger / requests

    def _user(self, name: str) -> Credentials:
        """A registry user's credentials, from the files standalone generated (ADR 0017)."""
        try:
            return read_credentials(credentials_file(standalone_credentials_dir(self.root), name))
        except CredentialsError as exc:
            raise DemoError(str(exc)) from None

    @staticmethod
    def _wait(check: Callable[[], object], deadline: float):
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(1)
        raise DemoError("the retraining loop did not complete in time; see .mlplat/logs/training-trigger.log")

    def _feature_store(self, tenant, now: datetime) -> dict:
        """Write the tenant's offline feature data (generated from iris) and materialize it, as its schedule
        would; returns what was done."""
        from services.features import dataset
        from services.features.repo import standalone_dir

        store = tenant.features
        for view in store.feature_views:
            keys = [store.entity(e).key for e in view.entities]
            if keys != ["flower_id"] or [f.name for f in view.features] != list(dataset.MEASUREMENTS):
                raise DemoError(
                    f"tenant {tenant.name!r}: the demo generates feature data for the flower example only (flower_id "
                    f"and {', '.join(dataset.MEASUREMENTS)}); for view {view.name!r} write its Parquet file to "
                    f"{standalone_dir(self.root, tenant.name) / 'data' / view.source.path} and run its materialization"
                )
            path = standalone_dir(self.root, tenant.name) / "data" / view.source.path
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset.measurements(now, view.source.timestamp_field).to_parquet(path)
            self.say(
                f"[features] {tenant.name}/{view.name}: 150 flowers measured {len(dataset.MEASURED_HOURS_AGO)} times "
                f"each ({', '.join(f'-{h}h' for h in dataset.MEASURED_HOURS_AGO)}), written to {path}"
            )
        schedule = next(s for s in platform_schedules(self.root) if s["name"] == f"features-{tenant.name}")
        env = {**os.environ, **schedule.get("env", {})}
        run = subprocess.run(schedule["command"], env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise DemoError(f"materializing {tenant.name}'s features failed:\n{run.stderr[-2000:]}")
        self.say(f"    {run.stdout.strip().splitlines()[-1]} (schedule {schedule['schedule']!r})")
        return {"views": [v.name for v in store.feature_views], "materialized": True}

    def _training_inputs(self, tenant, model, now: datetime, x: np.ndarray, y: np.ndarray):
        """(features, labels, feature service): iris as is, or, for a model that reads a feature service,
        the point-in-time-correct historical features of every labelled flower (get_historical_features)."""
        import pandas as pd

        if model.features is None:
            return pd.DataFrame(x, columns=FEATURES), y, None
        from services.features import dataset
        from services.features.repo import standalone_dir
        from services.features.store import historical_features

        service = model.features.service
        columns = [f.name for _, f in tenant.features.service_features(service)]
        rows = historical_features(standalone_dir(self.root, tenant.name) / "repo", service, dataset.labels(now))
        self.say(
            f"    {len(rows)} training rows from feature service {service!r}: each label joined with the "
            "measurement taken before it (point-in-time correct)"
        )
        return rows[columns], rows["species"].to_numpy(), service

    def _register(self, name: str, owner: str, frame, y: np.ndarray, service: str | None, c: float) -> str:
        import mlflow
        from mlflow.models import infer_signature
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        from services.model_server.reference import log_reference

        train_x, test_x, train_y, test_y = train_test_split(frame, y, test_size=0.3, random_state=0, stratify=y)
        estimator = LogisticRegression(C=c, max_iter=500).fit(train_x, train_y)
        mlflow.set_experiment(f"{owner}-{name}")
        with mlflow.start_run():
            params = {"C": c, "model": "LogisticRegression", **({"feature_service": service} if service else {})}
            mlflow.log_params(params)
            mlflow.log_metric("accuracy", float(estimator.score(test_x, test_y)))
            log_reference(train_x)
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
            description=f"Demo {name} for {owner}: iris LogisticRegression "
            f"(C={c}). Intended for the platform walkthrough.",
        )
        return version

    def _traffic(self, server: str, model: str, x: np.ndarray, y: np.ndarray, requests: int = 60) -> int:
        url = f"{server}/models/{model}/invocations"
        self._wait_served(server, model)
        correct = 0
        for index in range(requests):
            row = index % len(x)
            answer = _post(url, {"dataframe_split": {"columns": FEATURES, "data": [x[row].tolist()]}})
            correct += int(answer["predictions"][0] == int(y[row]))
        if correct < 0.8 * requests:
            raise DemoError(f"{model}: only {correct}/{requests} answers match the iris labels")
        return requests

    def _entity_traffic(self, server: str, model: str, y: np.ndarray, requests: int = 60) -> int:
        """Requests that carry only a flower_id: the server fetches the flower's online features."""
        self._wait_served(server, model)
        url, correct = f"{server}/v2/models/{model}/infer", 0
        for index in range(requests):
            flower = index % len(y) + 1
            body = {"inputs": [{"name": "flower_id", "shape": [1], "datatype": "INT64", "data": [flower]}]}
            correct += int(_post(url, body)["outputs"][0]["data"][0] == int(y[flower - 1]))
        if correct < 0.8 * requests:
            raise DemoError(f"{model}: only {correct}/{requests} answers from entity keys match the iris labels")
        self.say(f"    {model}: {requests} requests carrying only a flower_id, features fetched from the online store")
        return requests

    def _wait_served(self, server: str, model: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the server polls the registry every few seconds
            if _get_status(f"{server}/v2/models/{model}/ready") == 200:
                return
            time.sleep(1)
        raise DemoError(f"{model} was not served by {server} within 60 s; see .mlplat/logs/")

    def _drift(self, server: str, model: str, prometheus: str, x: np.ndarray) -> dict:
        drifted = (x * 3).tolist()
        deadline = time.monotonic() + self.drift_timeout
        while time.monotonic() < deadline:
            _post(f"{server}/models/{model}/invocations", {"instances": drifted})
            for alert in _alerts(prometheus):
                if alert["labels"].get("alertname") == "ModelFeatureDrift" and alert["state"] == "firing":
                    return alert
            time.sleep(5)
        raise DemoError(
            f"the drift alert did not fire within {self.drift_timeout:.0f}s; "
            f"check {prometheus}/alerts and .mlplat/logs/prometheus.log"
        )


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _alerts(prometheus: str) -> list[dict]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/alerts", timeout=5) as response:
        return json.load(response)["data"]["alerts"]


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as `mlplat demo`")
