"""The pack as the CLI gets it: an executable analyzer that runs __main__.py as the language host would,
and the blueprint's enforcement levels as its config."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from policies.deploy.plugin import analyzer_executable, gate


def test_the_script_runs_the_packs_main_with_the_engine_address_in_its_own_folder(tmp_path):
    pack = tmp_path / "deploy pack"  # a space: the paths must be quoted
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text("import os, sys\nprint(os.getcwd(), sys.argv[1:])\n")
    script = analyzer_executable(pack, tmp_path / "out", python=sys.executable)
    done = subprocess.run([str(script), "127.0.0.1:4321"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"{pack} ['127.0.0.1:4321']"
    assert (script.parent / "PulumiPolicy.yaml").read_text() == "runtime: python\n"  # the CLI reads it beside


def test_a_folder_without_main_is_not_a_policy_pack(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Python policy pack"):
        analyzer_executable(tmp_path, tmp_path / "out")


def test_the_gate_carries_the_blueprints_levels_and_registries(tmp_path):
    from blueprints.schema import PolicySettings

    settings = PolicySettings(enforcement={"image-pinned": "advisory"}, allowed_registries=["quay.io"])
    found = gate(settings, tmp_path / "gate")
    config = json.loads(found.config.read_text())
    assert config["image-pinned"]["enforcementLevel"] == "advisory"
    assert config["allowed-registries"]["allowedRegistries"] == ["quay.io"]
    assert found.pack.name == "pulumi-analyzer-policy" and os.access(found.pack, os.X_OK)
