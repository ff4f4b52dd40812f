"""The shell around the compliance controls, without OPA: usage errors before anything is written, the
live reader against an HTTP server shaped like the API server, the status pushed for the alert, and the
report's rendering of a result."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from services.cli import main
from services.compliance import check, report
from services.compliance.live import CONFIGMAPS, LISTED, ApiReader, LiveError, live_manifests


def test_an_unknown_framework_is_a_usage_error_and_writes_nothing(capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "compliance",
                "report",
                "--framework",
                "iso27001",
                "--blueprint",
                "foundation",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert exited.value.code == 2
    assert (
        "--framework: invalid choice: 'iso27001' (choose from 'soc2', 'hipaa', 'gdpr', 'all')"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "o").exists()


def test_without_opa_the_report_says_how_to_get_it_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAT_OPA", str(tmp_path / "no-opa"))
    code = main(
        ["compliance", "report", "--framework", "gdpr", "--blueprint", "foundation", "--out", str(tmp_path / "o")]
    )
    assert code == 2
    assert "MLPLAT_OPA=" in capsys.readouterr().err and not (tmp_path / "o").exists()


class _Api(BaseHTTPRequestHandler):
    """GET of every listed path: one item (without `kind`, as the API server answers lists); the named
    ConfigMaps: the first found, the others 404; /api/v1/namespaces/broken/...: 403."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.startswith("/api/v1/namespaces/") and "/configmaps/" in self.path:
            namespace, name = self.path.split("/")[4], self.path.split("/")[6]
            if (namespace, name) == CONFIGMAPS[0]:
                return self._send(200, {"metadata": {"name": name, "namespace": namespace}, "data": {}})
            return self._send(403 if namespace == "broken" else 404, {"message": "no"})
        kind = dict(LISTED).get(self.path)
        if kind is None:
            return self._send(404, {})
        self._send(200, {"kind": f"{kind}List", "items": [{"metadata": {"name": f"a-{kind.lower()}"}}]})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_live_reader_gives_every_listed_object_its_kind_back(api):
    objects = live_manifests(ApiReader(api, "token"), dedicated_registries=["clinical"])
    kinds = [o["kind"] for o in objects]
    assert kinds == [kind for _, kind in LISTED] + ["ConfigMap"]  # the absent ConfigMaps are skipped
    assert objects[0] == {"kind": "Namespace", "metadata": {"name": "a-namespace"}}


def test_the_live_reader_names_the_request_the_api_server_refused(api):
    with pytest.raises(LiveError, match="GET /api/v1/namespaces/broken/configmaps/registry-access: 403"):
        live_manifests(ApiReader(api, "token"), dedicated_registries=["broken"])


RESULT = {
    "framework": "soc2",
    "source": "rendered",
    "blueprint": "test",
    "generated": "2026-12-05T12:00:00Z",
    "controls": [
        {
            "control": {"id": "soc2-cc7.2", "framework": "soc2", "reference": "CC7.2", "title": "System monitoring"},
            "scope": "the monitoring stack",
            "status": "fail",
            "findings": [
                {"check": "alerts-reach-a-person", "object": "ConfigMap x", "gap": "nobody told", "fix": "add"}
            ],
            "evidence": [],
            "unverified": [],
            "acceptances": [],
            "record": [],
        },
        {
            "control": {"id": "soc2-cc6.1", "framework": "soc2", "reference": "CC6.1", "title": "Logical access"},
            "scope": "every tenant",
            "status": "pass",
            "findings": [],
            "evidence": [{"check": "b", "object": "Y", "detail": "d2"}, {"check": "a", "object": "X", "detail": "d1"}],
            "unverified": [],
            "acceptances": [],
            "record": [],
        },
    ],
}


def test_the_report_orders_controls_by_the_catalogue_and_is_deterministic():
    markdown = report.to_markdown(RESULT, inputs={"registry": "not read"})
    assert markdown.index("SOC 2 CC6.1") < markdown.index("SOC 2 CC7.2")
    assert "| nobody told | ConfigMap x | add |" in markdown and "1 pass, 1 fail" in markdown
    assert markdown.index("`a` X: d1") < markdown.index("`b` Y: d2")
    data = json.loads(report.to_json(RESULT))
    assert [c["control"]["id"] for c in data["controls"]] == ["soc2-cc6.1", "soc2-cc7.2"]
    assert data["counts"]["fail"] == 1 and report.failed(RESULT)
    assert report.to_json(RESULT) == report.to_json(json.loads(json.dumps(RESULT)))


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str]] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        _Gateway.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_each_control_status_is_pushed_one_hot_for_the_alert():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        check.push(RESULT, f"127.0.0.1:{server.server_address[1]}", schedule_seconds=3600, now=1000.0)
    finally:
        server.shutdown()
    (path, body), *_ = _Gateway.received
    assert path == "/metrics/job/mlplat-compliance/blueprint/test"
    assert 'mlplat_compliance_control_status{control="soc2-cc7.2",framework="soc2",status="fail"} 1.0' in body
    assert 'mlplat_compliance_control_status{control="soc2-cc7.2",framework="soc2",status="pass"} 0.0' in body
    assert "mlplat_compliance_schedule_interval_seconds 3600.0" in body


def test_the_standalone_check_runs_the_report_command_on_the_blueprints_schedule(tmp_path):
    from blueprints import load
    from services.cli import build_parser
    from services.compliance.standalone import compliance_schedule

    jobs, skipped = compliance_schedule(
        load("enterprise"), "enterprise", tmp_path, tracking_uri="http://127.0.0.1:5000", env={},
        pushgateway="http://127.0.0.1:9091", opa_available=True,
    )  # fmt: skip
    (job,) = jobs
    assert (job.name, job.schedule, skipped) == ("compliance-check", "0 * * * *", {})
    args = build_parser().parse_args(job.command[3:])  # after `python -m services.cli`
    assert (args.framework, args.registry, args.push_gateway) == (
        "all",
        "http://127.0.0.1:5000",
        "http://127.0.0.1:9091",
    )
    assert compliance_schedule(
        load("foundation"), "foundation", tmp_path, tracking_uri="x", env={}, pushgateway=None, opa_available=True
    ) == ([], {"compliance-check": "the blueprint declares no platform.compliance"})
    _, why = compliance_schedule(
        load("enterprise"), "enterprise", tmp_path, tracking_uri="x", env={}, pushgateway=None, opa_available=False
    )
    assert "mlplat toolchain --only policy" in why["compliance-check"]
