"""The executable analyzer: the policy pack's __main__.py, run the way the language host would run it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.engine.analyzer import analyzer_executable


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
