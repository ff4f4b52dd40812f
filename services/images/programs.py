"""The Go programs in the platform's images, each at the version infra/images.py pins.

Every recipe follows its project's own release build (.promu.yml for the Prometheus projects, the
Makefile for kube-state-metrics and metrics-server, the Dockerfile for the distribution registry):
the same main packages, build tags and version stamps. What the stamps cannot know here is the git
commit and the build host, so Revision/gitCommit stay empty and BuildDate is fixed: a binary is
decided by its recipe alone, which is what lets the store keep it (services/images/go_program.py).

Prometheus embeds its web UI (the `builtinassets` tag). The UI is built the way `make assets` does it,
with npm from the npm registry: the PromQL editor modules, then the Mantine UI that Prometheus 3
serves. The old React UI (`--enable-feature=old-ui`) is left out: it is a second, larger npm build
for a flag the platform does not set. docs/air-gapped.md lists that difference.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from services.engine import toolchain
from services.images.go_program import GoBinary, GoProgram, Log, images_cache, stamps

__all__ = ["PROGRAMS", "prometheus_ui"]

_PROMETHEUS_COMMON = "github.com/prometheus/common/version"
_BUILD_DATE = "19700101-00:00:00"  # fixed: the store key is the recipe, not the day


def _promu(version: str) -> tuple[str, ...]:
    """The stamps .promu.yml sets, as `promu build` writes them for a release."""
    return stamps(
        _PROMETHEUS_COMMON,
        {"Version": version, "Branch": "HEAD", "BuildUser": "mlops-platform", "BuildDate": _BUILD_DATE},
    )


def prometheus_ui(tree: Path, go: toolchain._Go, log_file: Path, log: Log) -> None:
    """Build the web UI into web/ui/static and write the embed list, as `make assets assets-compress` does.

    npm's cache lives in the images cache, so a second build downloads nothing."""
    if shutil.which("npm") is None:
        raise toolchain.ToolchainError(
            "Prometheus embeds its web UI, built with npm: install Node.js 20 or newer with npm "
            "(Debian: apt-get install nodejs npm), then build again"
        )
    ui = tree / "web" / "ui"
    env = {"npm_config_cache": str(images_cache() / "npm"), "npm_config_update_notifier": "false"}
    log("images: prometheus: installing the web UI's npm packages (package-lock.json)")
    go.run(["npm", "ci", "--no-audit", "--no-fund"], ui, log_file, "npm ci (Prometheus web UI)", env)
    for workspace in ("@prometheus-io/lezer-promql", "@prometheus-io/codemirror-promql", "@prometheus-io/mantine-ui"):
        log(f"images: prometheus: building {workspace}")
        go.run(["npm", "run", "build", "-w", workspace], ui, log_file, f"npm run build {workspace}", env)
    static = ui / "static"
    static.mkdir(exist_ok=True)
    shutil.rmtree(static / "mantine-ui", ignore_errors=True)
    (ui / "mantine-ui" / "dist").rename(static / "mantine-ui")
    go.run(["bash", "scripts/compress_assets.sh"], tree, log_file, "compress the web UI assets")


PROGRAMS: dict[str, GoProgram] = {
    "prometheus": GoProgram(
        module="github.com/prometheus/prometheus",
        version="v0.305.0",  # Prometheus 3.5.0, as the project publishes its Go module
        binaries=(GoBinary("prometheus", "./cmd/prometheus"), GoBinary("promtool", "./cmd/promtool")),
        ldflags=_promu("3.5.0"),
        tags=("netgo", "builtinassets"),
        prepare=prometheus_ui,
        prepare_inputs=("npm ci", "lezer-promql", "codemirror-promql", "mantine-ui"),
    ),
    "alertmanager": GoProgram(
        module="github.com/prometheus/alertmanager",
        version="v0.28.1",
        # The UI is embedded from the module's committed assets_vfsdata.go: no npm step.
        binaries=(GoBinary("alertmanager", "./cmd/alertmanager"), GoBinary("amtool", "./cmd/amtool")),
        ldflags=_promu("0.28.1"),
        tags=("netgo",),
    ),
    "pushgateway": GoProgram(
        module="github.com/prometheus/pushgateway",
        version="v1.11.3",
        binaries=(GoBinary("pushgateway", "."),),
        ldflags=_promu("1.11.3"),
    ),
    # OPA writes its version into its source (v1/version): no stamps, as the toolchain's build of it
    "opa": GoProgram(
        module="github.com/open-policy-agent/opa",
        version="v1.22.4",
        binaries=(GoBinary("opa", "."),),
    ),
    "kube-state-metrics": GoProgram(
        module="k8s.io/kube-state-metrics/v2",
        version="v2.15.0",
        binaries=(GoBinary("kube-state-metrics", "."),),
        ldflags=stamps(
            _PROMETHEUS_COMMON,
            {"Version": "v2.15.0", "Branch": "HEAD", "BuildUser": "mlops-platform", "BuildDate": _BUILD_DATE},
        ),
    ),
    "metrics-server": GoProgram(
        module="sigs.k8s.io/metrics-server",
        version="v0.8.0",
        binaries=(GoBinary("metrics-server", "./cmd/metrics-server"),),
        ldflags=stamps("k8s.io/client-go/pkg/version", {"gitVersion": "v0.8.0", "buildDate": "1970-01-01T00:00:00Z"}),
    ),
    "registry": GoProgram(
        module="github.com/distribution/distribution/v3",
        version="v3.0.0",
        binaries=(GoBinary("registry", "./cmd/registry"),),
        ldflags=stamps(
            "github.com/distribution/distribution/v3/version",
            {"version": "3.0.0", "mainpkg": "github.com/distribution/distribution/v3"},
        ),
    ),
}
