"""The standalone supervisor: busy ports stop it early, children are health-checked, logged, and
never outlive it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from services.standalone.plan import Plan, ProcessSpec
from services.standalone.supervisor import STATE_FILE, StartupError, Supervisor


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_server(name: str, port: int, root: Path) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        command=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
        port=port,
        health_path="/",
        startup_timeout=20,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); treat it as gone
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_gone(pids, timeout=10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def test_starts_in_order_health_checks_logs_and_stops_everything(tmp_path):
    specs = [http_server("first", free_port(), tmp_path), http_server("second", free_port(), tmp_path)]
    supervisor = Supervisor(
        Plan(root=tmp_path, processes=specs, skipped={}, files={tmp_path / "cfg" / "a.yml": "x: 1\n"}),
        log=lambda line: None,
    )
    try:
        supervisor.start()
        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert [c["name"] for c in state["components"]] == ["first", "second"]
        assert (tmp_path / "cfg" / "a.yml").read_text() == "x: 1\n"
        assert "first" in supervisor.url_table() and "second" in supervisor.url_table()
        pids = supervisor.pids()
        assert all(alive(p) for p in pids)
    finally:
        supervisor.stop()
    assert wait_gone(pids) == []
    assert not (tmp_path / STATE_FILE).exists()
    assert (tmp_path / "logs" / "first.log").exists()


def test_a_busy_port_is_reported_before_anything_starts(tmp_path):
    port = free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        other = http_server("other", free_port(), tmp_path)
        supervisor = Supervisor(
            Plan(root=tmp_path, processes=[other, http_server("mlflow", port, tmp_path)], skipped={}, files={}),
            log=lambda line: None,
        )
        with pytest.raises(StartupError, match=rf"mlflow: port {port} on 127.0.0.1 is already in use"):
            supervisor.start()
        assert supervisor.pids() == []  # nothing was started, not even the first component
    finally:
        blocker.close()


def test_a_component_that_dies_while_starting_is_reported_with_its_log(tmp_path):
    crash = ProcessSpec(
        name="crasher",
        command=[sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"],
        port=free_port(),
        health_path="/",
        startup_timeout=10,
    )
    supervisor = Supervisor(Plan(root=tmp_path, processes=[crash], skipped={}, files={}), log=lambda line: None)
    with pytest.raises(StartupError, match=r"crasher exited with code 3 while starting(.|\n)*boom: bad config"):
        supervisor.start()
    supervisor.stop()


def test_children_die_with_the_supervisor_even_on_sigkill(tmp_path):
    port = free_port()
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from services.standalone.plan import Plan, ProcessSpec
        from services.standalone.supervisor import Supervisor
        spec = ProcessSpec(name="web", command=[sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                           port={port}, health_path="/", startup_timeout=20)
        sup = Supervisor(Plan(root=Path(r"{tmp_path}"), processes=[spec], skipped={{}}, files={{}}), log=lambda l: None)
        sup.start()
        print(sup.pids()[0], flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_gone([child]) == [], "the child outlived its supervisor"
    finally:
        parent.kill()


def test_standalone_runs_one_server_per_tenant_with_the_same_flags_as_the_cluster(tmp_path, monkeypatch):
    from blueprints import load
    from services.cli import build_parser
    from services.cli.serve_cmd import config_from_args
    from services.model_server.server import ONLINE_STORE_ENV, build_routes
    from services.standalone.plan import plan

    blueprint = load("multi-tenant")
    result = plan(blueprint, tmp_path, which=lambda name: None)
    servers = [p for p in result.processes if p.tenant]
    assert [s.tenant for s in servers] == ["fraud", "recsys", "forecasting"]
    assert set(result.skipped) == {"prometheus", "alertmanager", "pushgateway"}  # honest: not on this PATH
    for path, text in result.files.items():  # the feature specs the server reads
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    recsys = next(s for s in servers if s.tenant == "recsys")
    monkeypatch.setenv(ONLINE_STORE_ENV, recsys.env[ONLINE_STORE_ENV])
    routes = build_routes(config_from_args(build_parser().parse_args(recsys.command[3:])))
    assert set(routes) == {"ranker", "embedder"}
    assert routes["ranker"].weight == 0.2 and routes["embedder"].challenger is None
    # ranker reads its inputs from recsys' feature store, on SQLite in standalone
    assert routes["ranker"].features.spec.service == "ranker_v1" and routes["embedder"].features is None
    assert recsys.env[ONLINE_STORE_ENV] == f"sqlite:///{tmp_path.resolve() / 'features' / 'recsys' / 'online.db'}"


def test_the_feature_store_is_applied_before_the_servers_and_materialized_on_the_blueprint_schedule(tmp_path):
    from blueprints import load
    from services.features.repo import feature_repo, standalone_store
    from services.standalone.plan import plan

    blueprint = load("multi-tenant")
    result = plan(blueprint, tmp_path, which=lambda name: f"/usr/bin/{name}")
    names = [p.name for p in result.processes]
    assert names.index("features-recsys") < names.index("serving-recsys")
    apply = result.by_name("features-recsys")
    assert apply.oneshot and apply.command[3:] == [
        "features",
        "apply",
        "--repo",
        str(tmp_path / "features/recsys/repo"),
    ]
    repo = feature_repo(blueprint.tenant("recsys"), standalone_store(tmp_path, "recsys"))
    for name, text in repo.items():  # the same generated repository, written before anything starts
        assert result.files[tmp_path / "features" / "recsys" / "repo" / name] == text
    (job,) = [s for s in result.schedules if s.kind == "features"]
    assert (job.name, job.schedule) == ("features-recsys", "*/15 * * * *")
    assert job.command[3:] == [
        "features", "materialize", "--repo", str(tmp_path / "features/recsys/repo"), "--tenant", "recsys",
        "--schedule", "*/15 * * * *",
    ]  # fmt: skip
    assert job.env["MLPLAT_PUSHGATEWAY"] == "http://127.0.0.1:9091"


def test_the_foundation_plan_schedules_its_batch_job_with_the_cronjobs_command(tmp_path):
    from blueprints import load
    from services.batch.command import batch_args
    from services.standalone.plan import batch_data_dir, plan

    blueprint = load("foundation")
    result = plan(blueprint, tmp_path, which=lambda name: f"/usr/bin/{name}")
    (job,) = result.schedules
    tenant = blueprint.tenants[0]
    assert job.schedule == "0 3 * * *" and job.timeout_seconds == 3600
    assert job.command[3:] == batch_args(tenant.batch[0], tenant.name, str(batch_data_dir(tmp_path, tenant.name)))
    assert job.env["MLPLAT_PUSHGATEWAY"] == "http://127.0.0.1:9091"


def test_alertmanager_routes_the_drift_alert_to_the_training_trigger(tmp_path):
    import yaml

    from blueprints import load
    from services.standalone.plan import plan

    result = plan(load("foundation"), tmp_path, which=lambda name: f"/usr/bin/{name}")
    trigger = result.by_name("training-trigger")
    config = yaml.safe_load(result.files[tmp_path / "alertmanager" / "alertmanager.yml"])
    route = next(r for r in config["route"]["routes"] if r["matchers"] == ['alertname="ModelFeatureDrift"'])
    receiver = next(r for r in config["receivers"] if r["name"] == route["receiver"])
    assert receiver["webhook_configs"][0]["url"] == f"{trigger.url}/alerts"
    prometheus = yaml.safe_load(result.files[tmp_path / "prometheus" / "prometheus.yml"])
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["training-trigger"]["static_configs"][0]["targets"] == [f"127.0.0.1:{trigger.port}"]


def test_the_scheduler_runs_due_jobs_once_and_never_two_runs_of_a_job_at_once(tmp_path):
    from datetime import UTC, datetime

    from services.standalone.scheduler import ScheduledJob, Scheduler

    marker = tmp_path / "runs.txt"
    slow = [sys.executable, "-c", f"import time; open({str(marker)!r}, 'a').write('run\\n'); time.sleep(30)"]
    start = datetime(2026, 11, 25, 2, 58, tzinfo=UTC).timestamp()
    lines: list[str] = []
    scheduler = Scheduler(
        [ScheduledJob("every-minute", "* * * * *", slow)], tmp_path / "logs", log=lines.append, clock=lambda: start
    )
    try:
        assert scheduler.tick(now=start + 30) == []  # not due until 02:59
        assert scheduler.tick(now=start + 60) == ["every-minute"]
        assert scheduler.tick(now=start + 61) == []  # not due again within the minute
        assert scheduler.tick(now=start + 120) == []  # due, but the first run is still going: Forbid
        assert any("skipped (concurrencyPolicy Forbid)" in line for line in lines)
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.read_text() == "run\n" and scheduler.running() == ["every-minute"]
    finally:
        scheduler.stop(grace=5)
    assert scheduler.running() == []


def test_the_scheduler_stops_a_run_past_its_deadline(tmp_path):
    from services.standalone.scheduler import ScheduledJob, Scheduler

    sleeper = ScheduledJob(
        "slow", "0 0 1 1 *", [sys.executable, "-c", "import time; time.sleep(60)"], timeout_seconds=5
    )
    lines: list[str] = []
    scheduler = Scheduler([sleeper], tmp_path / "logs", log=lines.append)
    scheduler.run_now("slow")
    started = time.time()
    scheduler.tick(now=started + 6)
    deadline = time.monotonic() + 10
    while scheduler.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scheduler.running() == [] and any("over its 5s deadline" in line for line in lines)
    scheduler.tick(now=started + 7)
    assert any("slow: failed" in line for line in lines)


def _environment_dump(path: Path) -> list[str]:
    return [sys.executable, "-c", f"import json, os; open({str(path)!r}, 'w').write(json.dumps(dict(os.environ)))"]


def test_components_and_scheduled_jobs_start_without_the_supervisors_metrics_folder(tmp_path, monkeypatch):
    """A supervisor started from a process that imported Feast carries PROMETHEUS_MULTIPROC_DIR; its
    children must not inherit it (services/standalone/environment.py), but keep everything else."""
    from datetime import UTC, datetime

    from services.standalone.scheduler import ScheduledJob, Scheduler
    from services.standalone.spec import oneshot

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "feast-metrics"))
    monkeypatch.setenv("prometheus_multiproc_dir", str(tmp_path / "feast-metrics"))
    monkeypatch.setenv("MLPLAT_INHERITED", "kept")
    step = oneshot("dump", _environment_dump(tmp_path / "step.json"), env={"MLPLAT_OWN": "set"}, timeout=30)
    supervisor = Supervisor(Plan(root=tmp_path, processes=[step], skipped={}, files={}), log=lambda line: None)
    try:
        supervisor.start()
    finally:
        supervisor.stop()
    start = datetime(2026, 11, 25, 2, 59, tzinfo=UTC).timestamp()
    job = ScheduledJob("dump", "* * * * *", _environment_dump(tmp_path / "job.json"), env={"MLPLAT_OWN": "set"})
    scheduler = Scheduler([job], tmp_path / "logs", log=lambda line: None, clock=lambda: start)
    try:
        assert scheduler.tick(now=start + 60) == ["dump"]
        deadline = time.monotonic() + 20
        while scheduler.running() and time.monotonic() < deadline:
            time.sleep(0.1)
            scheduler.tick(now=start + 61)
    finally:
        scheduler.stop(grace=5)
    for dump in ("step.json", "job.json"):
        environment = json.loads((tmp_path / dump).read_text())
        assert "PROMETHEUS_MULTIPROC_DIR" not in environment and "prometheus_multiproc_dir" not in environment
        assert environment["MLPLAT_INHERITED"] == "kept" and environment["MLPLAT_OWN"] == "set"


def test_a_tool_in_usr_sbin_is_found_when_the_users_path_leaves_that_folder_out(tmp_path, monkeypatch):
    """Debian installs nginx in /usr/sbin, which a non-root user's PATH lacks: the make test run as a user
    on a fresh machine failed the gateway tests with 'nginx is not installed' right after installing it."""
    from services.standalone import spec

    sbin, bin_dir = tmp_path / "sbin", tmp_path / "bin"
    for folder in (sbin, bin_dir):
        folder.mkdir()
    daemon = sbin / "mlplat-test-daemon"
    daemon.write_text("#!/bin/sh\n")
    daemon.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(spec, "SYSTEM_DIRS", (str(sbin),))
    assert spec.find_binary("mlplat-test-daemon") == str(daemon)
    assert spec.find_binary("mlplat-no-such-tool") is None
    (bin_dir / "mlplat-test-daemon").write_text("#!/bin/sh\n")
    (bin_dir / "mlplat-test-daemon").chmod(0o755)
    assert spec.find_binary("mlplat-test-daemon") == str(bin_dir / "mlplat-test-daemon")  # PATH comes first
