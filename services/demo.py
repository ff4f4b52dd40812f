"""`mlplat demo`: the model lifecycle, end to end, on a running standalone platform.

For every tenant and each of its models: train a small scikit-learn model on iris (it ships with
scikit-learn), log metrics, signature, input example and the reference feature distribution,
register it; approve it and let the gate promote it to champion; register a second version and
promote it to the challenger alias (the blueprint's canary weight sends it a share of traffic); send
traffic and check the answers; then send drifted traffic and wait until Prometheus fires the drift
alert. Each step prints what it does.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blueprints.schema import Blueprint

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


@dataclass
class Demo:
    blueprint: Blueprint
    root: Path
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    drift_timeout: float = 240.0

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
        summary: dict = {"promoted": [], "answers": 0, "drift_alert": None}
        x, y = _iris()
        step = 0
        for tenant in self.blueprint.tenants:
            for model in tenant.models:
                step += 1
                self.say(f"[{step}] {tenant.name}/{model.name}: train and register (owner {tenant.name})")
                first = self._register(model.name, tenant.name, x, y, c=1.0)
                registry.approve(client, model.name, first, "platform-reviewer")
                decision = promote(client, rules, audit, model.name, first, model.alias, actor="demo")
                self.say(_indent(decision.table()))
                if not decision.passed:
                    raise DemoError(f"the gate refused {model.name} v{first}; see the table above")
                summary["promoted"].append((model.name, first, model.alias))
                if model.canary_weight:
                    second = self._register(model.name, tenant.name, x, y, c=0.5)
                    registry.approve(client, model.name, second, "platform-reviewer")
                    challenger = promote(client, rules, audit, model.name, second, model.challenger_alias, actor="demo")
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
                summary["answers"] += self._traffic(server["url"], model.name, x, y)
        self.say(f"    {summary['answers']} answers checked against the training labels")
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
        self.say(
            f"    alert {summary['drift_alert']['labels']['alertname']} is FIRING for "
            f"{summary['drift_alert']['labels'].get('model')} "
            f"(feature {summary['drift_alert']['labels'].get('feature')})"
        )
        return summary

    def _register(self, name: str, owner: str, x: np.ndarray, y: np.ndarray, c: float) -> str:
        import mlflow
        import pandas as pd
        from mlflow.models import infer_signature
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        from services.model_server.reference import log_reference

        frame = pd.DataFrame(x, columns=FEATURES)
        train_x, test_x, train_y, test_y = train_test_split(frame, y, test_size=0.3, random_state=0, stratify=y)
        estimator = LogisticRegression(C=c, max_iter=500).fit(train_x, train_y)
        mlflow.set_experiment(f"{owner}-{name}")
        with mlflow.start_run():
            mlflow.log_params({"C": c, "model": "LogisticRegression"})
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
        for key, value in {**TAGS, "owner": owner}.items():
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the server polls the registry every few seconds
            if _get_status(f"{server}/v2/models/{model}/ready") == 200:
                break
            time.sleep(1)
        else:
            raise DemoError(f"{model} was not served by {server} within 60 s; see .mlplat/logs/")
        correct = 0
        for index in range(requests):
            row = index % len(x)
            answer = _post(url, {"dataframe_split": {"columns": FEATURES, "data": [x[row].tolist()]}})
            correct += int(answer["predictions"][0] == int(y[row]))
        if correct < 0.8 * requests:
            raise DemoError(f"{model}: only {correct}/{requests} answers match the iris labels")
        return requests

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
