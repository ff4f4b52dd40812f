"""The DR drill, run the way a user runs it (`mlplat registry drill`), at a bounded size: a real
PostgreSQL and a real MLflow, a backup by backup.sh, the database destroyed, restore.sh, MLflow
restarted. Its report must show a field-by-field identical registry, exactly the post-backup
changes lost, and nothing left running. RTO and RPO figures are printed, not asserted (the
timings belong in docs/registry-dr.md, not in a test that would flake on a busy machine)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    keep = tmp_path_factory.mktemp("drill")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "registry", "drill", "--models", "2", "--versions", "2", "--json"]
        + ["--keep", str(keep)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        pytest.fail(f"the drill did not run (exit {done.returncode}):\n{done.stderr}", pytrace=False)
    report = json.loads(done.stdout)
    print(f"\nDR drill: RTO {report['seconds']['rto']}s, data-loss window {report['seconds']['data_loss_window']}s")
    return report, done.stderr, keep


def test_the_drill_passes_with_no_problem(drill):
    report, progress, _ = drill
    assert report["problems"] == [], progress
    assert report["passed"] is True


def test_the_restored_registry_equals_the_backup_in_every_field_of_every_category(drill):
    compared = drill[0]["restored_vs_backup"]
    assert compared["differences"] == []
    for category in ("models", "versions", "tags", "aliases", "audit"):
        counts = compared[category]
        assert counts["items"] > 0, category
        assert counts["matched"] == counts["items"] and counts["equal"] == counts["fields"], category
    assert compared["models"]["items"] == 2
    assert compared["versions"]["items"] == 2 * 2 + 1  # the versions plus the one the gate refused
    assert compared["aliases"]["items"] == 4  # champion and challenger of each model
    assert compared["audit"]["items"] == 5  # every decision: 4 passes and 1 fail


def test_exactly_the_changes_made_after_the_backup_are_lost(drill):
    report = drill[0]
    assert len(report["changes_after_backup"]) == 3
    lost = report["lost"]
    touched = {"drill-1", "drill-2", "drill-late"}
    assert lost and all(re.search(r"\[(drill-1|drill-2|drill-late)|audit\[", d) for d in lost), lost
    assert {m for m in touched if any(m in d for d in lost)} == touched
    assert "aliases[drill-1@champion].value: expected '4', got '1'" in lost  # the late promotion is undone
    assert report["audit"]["after_backup"] == 1  # the audit log still holds it: the promotion to re-run


def test_the_database_really_went_away_and_every_champion_loads_again(drill):
    report = drill[0]
    assert report["reads_failed_after_destroy"] is True
    assert report["champions_loaded"] == 2
    assert report["seconds"]["rto"] > 0 and report["seconds"]["data_loss_window"] > 0


def test_the_backup_is_kept_with_its_checksum(drill):
    report, _, keep = drill
    dump = keep / "backups" / report["backup"]["file"]
    assert hashlib.sha256(dump.read_bytes()).hexdigest() == report["backup"]["sha256"]
    assert (keep / "backups" / f"{dump.name}.sha256").is_file()


def test_nothing_is_left_running_or_on_disk(drill):
    _, progress, _ = drill
    data = Path(re.search(r"data in (\S+)\)", progress).group(1))
    assert not data.parent.exists()
    running = [p for p in Path("/proc").glob("[0-9]*") if str(data.parent) in _cmdline(p)]
    assert running == []


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_the_drill_refuses_an_unbounded_size():
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "registry", "drill", "--models", "500"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "mlplat: --models 500: use 1 to 10 (the drill is bounded so it stays quick)"


def test_the_drill_never_keeps_its_files_in_a_running_platforms_folder(tmp_path):
    (tmp_path / "standalone.json").write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "registry", "drill", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert "belongs to a running standalone platform" in done.stderr
    assert (tmp_path / "standalone.json").read_text() == "{}"
