"""Launching a federated run: which model, with which overrides, where it registers, and the pieces
standalone runs on a schedule; usage errors name the fix."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from blueprints import load, load_text
from blueprints.loader import BLUEPRINT_DIR
from services.cli import main
from services.federated.environment import FederatedEnvironmentError, federated_python
from services.federated.launch import LaunchError, default_alias, resolve, standalone_target
from services.federated.spec import RunSpec
from services.federated.standalone import KIND, federated_standalone, spec_path

BASE = yaml.safe_load((BLUEPRINT_DIR / "federated.yaml").read_text())


def _scheduled():
    data = copy.deepcopy(BASE)
    data["tenants"][0]["models"][0]["federated"]["schedule"] = "0 1 * * *"
    return load_text(yaml.safe_dump(data))


def test_overrides_make_a_short_run_of_the_same_model_and_are_validated_like_the_blueprint():
    short = {"devices": 200, "fraction_per_round": 0.1, "data": {"samples": 20_000}}
    spec, model = resolve(load("federated"), "mobile", overrides=short)
    assert (spec.devices, spec.data.samples, spec.data.classes_per_device) == (200, 20_000, 2)  # merged, not replaced
    assert (spec.strategy, spec.dropout_rate, spec.secure_aggregation) == ("fedprox", 0.1, True)
    assert default_alias(model) == "challenger"  # the model has a canary
    with pytest.raises(LaunchError, match="fractionPerRound: secure aggregation needs at least 3 devices a round"):
        resolve(load("federated"), "mobile", overrides={"devices": 100})


def test_a_tenant_without_a_federated_model_is_told_where_to_declare_one():
    with pytest.raises(LaunchError, match="declares no federated a model"):
        resolve(load("foundation"), "data-science")
    with pytest.raises(LaunchError, match="no tenant 'nobody'"):
        resolve(load("federated"), "nobody")


def test_standalone_runs_a_scheduled_model_with_the_clusters_command_on_the_same_spec(tmp_path):
    pieces = federated_standalone(_scheduled(), tmp_path, python="python")
    path = spec_path(tmp_path, "mobile", "activity")
    (job,) = pieces.schedules
    assert (job.name, job.schedule, job.kind, job.timeout_seconds) == (
        "federated-mobile-activity",
        "0 1 * * *",
        KIND,
        3600,
    )
    run = ["python", "-m", "services.cli", "fl", "run", "--spec", str(path)]
    assert job.command == [*run, "--root", str(tmp_path), "--alias", "challenger"]
    model = _scheduled().tenant("mobile").models[0]
    assert RunSpec.from_json(pieces.files[path]) == RunSpec.from_blueprint("mobile", "activity", model.federated)
    assert federated_standalone(load("federated"), tmp_path).schedules == []  # no schedule: on demand only


def test_no_standalone_platform_means_no_target(tmp_path):
    assert standalone_target(tmp_path, "mobile") is None
    (tmp_path / "standalone.json").write_text(json.dumps({"components": [{"name": "mlflow", "url": "http://x"}]}))
    with pytest.raises(LaunchError, match="standalone platform in"):
        standalone_target(tmp_path, "mobile")  # running, but its credentials files are missing


def test_fl_run_without_a_registry_says_how_to_get_one(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = main(["fl", "run", "--tenant", "mobile", "--blueprint", "federated", "--root", str(tmp_path)])
    assert code == 2
    assert "no registry: no standalone platform runs from" in capsys.readouterr().err


def test_a_missing_federated_environment_names_the_make_target(tmp_path):
    with pytest.raises(FederatedEnvironmentError, match="make venv-federated"):
        federated_python({"MLPLAT_FEDERATED_PYTHON": str(tmp_path / "nope" / "python")})


def test_a_failing_runtime_is_an_error_carrying_the_end_of_its_log(tmp_path):
    from services.federated.job import FederatedError, run_events

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho 'Traceback: the partitioner ran out of rows' >&2\nexit 3\n")
    fake.chmod(0o755)
    spec, _ = resolve(load("federated"), "mobile")
    with pytest.raises(FederatedError, match="exited with 3(.|\n)*the partitioner ran out of rows"):
        list(run_events(spec, tmp_path, python=fake))


def test_fl_run_with_a_file_that_is_not_a_run_spec_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    bad = tmp_path / "run.json"
    bad.write_text('{"devices": 10}')
    assert main(["fl", "run", "--spec", str(bad)]) == 2
    assert f"--spec {bad}: not a federated run" in capsys.readouterr().err
