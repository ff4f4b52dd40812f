"""The federated section of a blueprint: the shipped one loads, and each mistake gets its own message
naming the field and the fix."""

from __future__ import annotations

import copy

import pytest
import yaml

from blueprints import BlueprintError, load, load_text
from blueprints.loader import BLUEPRINT_DIR
from services.federated.spec import RunSpec

BASE = yaml.safe_load((BLUEPRINT_DIR / "federated.yaml").read_text())
WHERE = "blueprints/x.yaml: tenants[0].models[0]"


def _error(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(BlueprintError) as caught:
        load_text(yaml.safe_dump(data), source="blueprints/x.yaml")
    return str(caught.value)


def _federated(**changes):
    def mutate(data):
        data["tenants"][0]["models"][0]["federated"].update(changes)

    return mutate


def _model(**changes):
    def mutate(data):
        data["tenants"][0]["models"][0].update(changes)

    return mutate


MALFORMED = {
    "fedprox-without-mu": (
        _federated(proximalMu=0),
        f"{WHERE}.federated: strategy fedprox needs proximalMu > 0 (e.g. 0.01); with 0 it is fedavg",
    ),
    "mu-with-fedavg": (
        _federated(strategy="fedavg"),
        f"{WHERE}.federated: proximalMu is FedProx's: set strategy: fedprox, or remove proximalMu",
    ),
    "dropout-secure-aggregation-cannot-survive": (
        _federated(dropoutRate=0.5),
        f"{WHERE}.federated.dropoutRate: secure aggregation cannot survive 50 of 100 devices dropping (50%)",
    ),
    "too-few-sampled-for-secure-aggregation": (
        _federated(devices=100, fractionPerRound=0.02),
        f"{WHERE}.federated.fractionPerRound: secure aggregation needs at least 3 devices a round, and 2 are sampled",
    ),
    "delta-too-large": (
        _federated(privacy={"noiseMultiplier": 1.0, "clippingNorm": 1.0, "delta": 0.001}),
        f"{WHERE}.federated: privacy.delta 0.001 is not below 1/devices (0.0001)",
    ),
    "too-few-rows": (
        _federated(data={"samples": 10_000}),
        f"{WHERE}.federated: data.samples (10000) gives some of the 10000 devices fewer rows than classesPerDevice",
    ),
    "classes-per-device": (
        _federated(data={"classes": 4, "classesPerDevice": 5}),
        f"{WHERE}.federated.data: classesPerDevice (5) exceeds classes (4)",
    ),
    "unknown-strategy": (
        _federated(strategy="fedyogi"),
        f"{WHERE}.federated.strategy: 'fedyogi' is not allowed",
    ),
    "federated-and-training": (
        _model(training={"entryPoint": "services.training.iris:train"}),
        f"{WHERE}: federated and training both train this model",
    ),
    "federated-pyfunc": (
        _model(flavor="pyfunc"),
        f"{WHERE}: flavor 'pyfunc': a federated model is registered as a scikit-learn LogisticRegression",
    ),
    "cronjob-name-too-long": (
        _model(name="a" * 43),
        f"{WHERE}.name: '{'a' * 43}' makes the CronJob",
    ),
    "quota-counts-the-federated-run": (
        lambda data: data["tenants"][0]["quotas"].update(cpu="3"),
        "blueprints/x.yaml: tenants[0].quotas.cpu: '3' is less than the 3.5 CPU",
    ),
    "cronjob-name-taken-by-a-batch-job": (
        lambda data: data["tenants"][0].update(
            batch=[
                {
                    "name": "activity-federated",
                    "model": "activity",
                    "schedule": "0 3 * * *",
                    "input": "in.csv",
                    "output": "out.parquet",
                }
            ]
        ),
        "blueprints/x.yaml: tenants[0].batch[0].name: 'activity-federated' is already a CronJob name",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_federated_section_gets_its_own_message(case):
    mutate, expected = MALFORMED[case]
    assert expected in _error(mutate)


def test_the_shipped_blueprint_resolves_to_the_run_it_declares():
    model = load("federated").tenant("mobile").models[0]
    spec = RunSpec.from_blueprint("mobile", model.name, model.federated)
    assert (spec.devices, spec.sampled, spec.rounds, spec.strategy) == (10_000, 100, 30, "fedprox")
    assert spec.secagg().num_shares == 17 and spec.secagg().threshold == 9  # 10 of 100 may drop
    assert RunSpec.from_json(spec.to_json()) == spec


def test_privacy_round_trips_through_the_run_spec():
    data = copy.deepcopy(BASE)
    data["tenants"][0]["models"][0]["federated"]["privacy"] = {"noiseMultiplier": 0.8, "clippingNorm": 2.0}
    model = load_text(yaml.safe_dump(data)).tenant("mobile").models[0]
    spec = RunSpec.from_blueprint("mobile", model.name, model.federated)
    assert (spec.privacy.noise_multiplier, spec.privacy.clipping_norm, spec.privacy.delta) == (0.8, 2.0, 1e-5)
    assert RunSpec.from_json(spec.to_json()) == spec
