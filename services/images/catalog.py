"""Every image the platform needs, with its provenance: what it is, how it is built here, how it differs.

This is data, read by `mlplat images list`, by the builder (services/images/build.py), by the tests that
hold it complete against the rendered manifests of every shipped blueprint, and by docs/air-gapped.md,
which must name every entry. Three groups:
- deployed: the images the manifests name (infra/images.py pins them; the platform's own image is the
  blueprint's `platform.image`);
- kind path: what the cluster needs besides its workloads: the local registry, the kind node image;
- bases: images built here only to build the others (the debootstrap roots, the static and busybox bases).

Each image is tagged locally with the reference it replaces, so `docker images` shows what stands in for
what, and the manifests work unchanged on a machine that built them (kind loads them, or a mirror serves
them, services/images/mirror.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra import images as pins
from infra.versions import node_image
from services.images.rootfs import DEBIAN, PYTHON

__all__ = [
    "BASES",
    "Base",
    "DEPLOYED",
    "Image",
    "KIND",
    "KIND_NODE",
    "LOCAL_REGISTRY",
    "PLATFORM",
    "by_name",
    "images_for",
]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = Path(__file__).resolve().parent / "dockerfiles"


@dataclass(frozen=True)
class Base:
    """An image built only to build others: a debootstrap root or a Dockerfile on top of one."""

    name: str
    ref: str
    plays: str  # the upstream image whose part it plays
    rootfs: str = ""  # "debian" or "python": made by services/images/rootfs.py
    dockerfile: str = ""  # otherwise: services/images/dockerfiles/<this>
    files: tuple[str, ...] = ()  # from services/images/files/, into the build context
    needs: tuple[str, ...] = ()  # the bases its Dockerfile builds from


@dataclass(frozen=True)
class Image:
    """One image the platform runs, and how this repository produces it."""

    name: str
    ref: str  # the upstream reference the manifests use, and the local tag of the image built here
    version: str  # the software's version inside the image built here
    how: str  # one line: how it is built here
    source: str  # where the software comes from: "<module>@<version>", "Debian bookworm <package>", ...
    dockerfile: str = ""  # services/images/dockerfiles/<this>; "" when not built by `mlplat images build`
    base: str = ""  # the Base it builds on
    program: str = ""  # the Go program it ships (services/images/programs.py)
    files: tuple[str, ...] = ()  # from services/images/files/, into the build context
    module_files: tuple[tuple[str, str], ...] = ()  # (file in the Go module, name in the context)
    uid: int | None = None  # the user it runs as, as the pods pin it
    differences: tuple[str, ...] = ()  # how it differs from the upstream image (docs/air-gapped.md)
    not_built: str = ""  # why `mlplat images build` does not build it, and what to do instead
    debian_package: str = ""  # for images from Debian's packages: the package whose version they carry

    @property
    def built_here(self) -> bool:
        return not self.not_built


BASES: tuple[Base, ...] = (
    Base("debian", DEBIAN.ref, "docker.io/library/debian:bookworm-slim", rootfs="debian"),
    Base("python", PYTHON.ref, "docker.io/library/python:3.11-slim-bookworm", rootfs="python"),
    Base(
        "static",
        "mlops-platform/static:bookworm",
        "gcr.io/distroless/static-debian12",
        dockerfile="static.Dockerfile",
        files=("passwd", "group"),
        needs=("debian",),
    ),
    Base(
        "busybox",
        "mlops-platform/busybox:bookworm",
        "quay.io/prometheus/busybox",
        dockerfile="busybox.Dockerfile",
        needs=("debian", "static"),
    ),
)

_PROMETHEUS_UI = "the web UI is the Mantine UI only: the old React UI (--enable-feature=old-ui) is not built"
_NO_LICENSES = "no npm_licenses.tar.bz2 (the UI's third-party licence bundle) in /"
_STAMPS = "version stamps without the git revision and build host (`--version` shows the version, branch HEAD)"

DEPLOYED: tuple[Image, ...] = (
    Image(
        name="postgres",
        ref=pins.POSTGRES,
        version="15 (Debian's current 15.x)",
        how="Debian packages (postgresql-15) in a two-stage Dockerfile, the official image's interface",
        source="Debian bookworm postgresql-15",
        dockerfile="postgres.Dockerfile",
        base="debian",
        files=("postgres-entrypoint.sh",),
        uid=pins.POSTGRES_UID,
        debian_package="postgresql-15",
        differences=(
            "Debian (glibc) instead of Alpine (musl); PostgreSQL is Debian's newest 15.x, not 15.13: same major "
            "version, same data format",
            "the entrypoint is this repository's, written to the documented interface (POSTGRES_* and *_FILE, "
            "/docker-entrypoint-initdb.d with .sh/.sql/.sql.gz/.sql.xz/.sql.zst, root drops to postgres)",
            "server binaries from /usr/lib/postgresql/15/bin first on PATH; PG_VERSION is not set "
            "(`dpkg-query -W postgresql-15` in the image shows Debian's version)",
            "an arbitrary UID without a passwd entry is not supported (the pods run as 70, which has one)",
        ),
    ),
    Image(
        name="prometheus",
        ref=pins.PROMETHEUS,
        version="3.5.0",
        how="Go module (prometheus, promtool) with the web UI built by npm and embedded",
        source="github.com/prometheus/prometheus@v0.305.0",
        dockerfile="prometheus.Dockerfile",
        base="busybox",
        program="prometheus",
        module_files=(
            ("documentation/examples/prometheus.yml", "prometheus.yml"),
            ("LICENSE", "LICENSE"),
            ("NOTICE", "NOTICE"),
        ),
        uid=pins.PROMETHEUS_UID,
        differences=(_PROMETHEUS_UI, _NO_LICENSES, _STAMPS, "busybox from Debian's busybox-static"),
    ),
    Image(
        name="alertmanager",
        ref=pins.ALERTMANAGER,
        version="0.28.1",
        how="Go module (alertmanager, amtool); the UI is the module's committed, embedded build",
        source="github.com/prometheus/alertmanager@v0.28.1",
        dockerfile="alertmanager.Dockerfile",
        base="busybox",
        program="alertmanager",
        module_files=(("examples/ha/alertmanager.yml", "alertmanager.yml"),),
        uid=pins.PROMETHEUS_UID,
        differences=(_STAMPS, "busybox from Debian's busybox-static"),
    ),
    Image(
        name="pushgateway",
        ref=pins.PUSHGATEWAY,
        version="1.11.3",
        how="Go module",
        source="github.com/prometheus/pushgateway@v1.11.3",
        dockerfile="pushgateway.Dockerfile",
        base="busybox",
        program="pushgateway",
        uid=pins.PROMETHEUS_UID,
        differences=(_STAMPS, "busybox from Debian's busybox-static"),
    ),
    Image(
        name="opa",
        ref=pins.OPA,
        version="1.22.4",
        how="Go module, statically linked (the -static variant)",
        source="github.com/open-policy-agent/opa@v1.22.4",
        dockerfile="opa.Dockerfile",
        base="static",
        program="opa",
        uid=pins.OPA_UID,
        differences=("the static base is made here from Debian's files, not gcr.io/distroless",),
    ),
    Image(
        name="kube-state-metrics",
        ref=pins.KUBE_STATE_METRICS,
        version="2.15.0",
        how="Go module",
        source="k8s.io/kube-state-metrics/v2@v2.15.0",
        dockerfile="kube-state-metrics.Dockerfile",
        base="static",
        program="kube-state-metrics",
        uid=pins.PROMETHEUS_UID,
        differences=(_STAMPS, "the static base is made here from Debian's files, not gcr.io/distroless"),
    ),
    Image(
        name="metrics-server",
        ref=pins.METRICS_SERVER,
        version="0.8.0",
        how="Go module",
        source="sigs.k8s.io/metrics-server@v0.8.0",
        dockerfile="metrics-server.Dockerfile",
        base="static",
        program="metrics-server",
        uid=1000,  # the pod's runAsUser (infra/components/metrics_server.py); the image's USER is 65534
        differences=(_STAMPS, "the static base is made here from Debian's files, not gcr.io/distroless"),
    ),
    Image(
        name="gateway",
        ref=pins.GATEWAY,
        version="Debian's nginx 1.22",
        how="Debian packages (nginx) in a two-stage Dockerfile, the unprivileged image's interface",
        source="Debian bookworm nginx",
        dockerfile="nginx-unprivileged.Dockerfile",
        base="debian",
        files=(
            "nginx-entrypoint.sh",
            "nginx-envsubst-on-templates.sh",
            "nginx.conf",
            "nginx-default.conf",
            "nginx-index.html",
        ),
        uid=pins.GATEWAY_UID,
        debian_package="nginx",
        differences=(
            "nginx 1.22 (Debian bookworm's) instead of 1.28.0: the gateway's configuration (proxy_pass to "
            "variables, resolver, return) means the same in both; newer directives would not",
            "Debian (glibc) instead of Alpine; Debian's build of nginx (its module set: no njs, no GeoIP)",
            "entrypoint: /docker-entrypoint.d with 20-envsubst-on-templates.sh only; the IPv6, local-resolver and "
            "worker-autotune scripts are not included",
        ),
    ),
    Image(
        name="pgvector",
        ref=pins.PGVECTOR,
        version="pgvector 0.8.0 on PostgreSQL 15",
        how="not built here",
        source="github.com/pgvector/pgvector 0.8.0 (Debian's source package, for the host: make pgvector)",
        uid=pins.PGVECTOR_UID,
        not_built=(
            "only the llm blueprint runs it (the semantic cache), and that blueprint does not fit this machine's "
            "kind cluster; the extension is built for the host's PostgreSQL (services/llm/install-pgvector.sh), "
            "not as an image: bring docker.io/pgvector/pgvector across with `docker save` / `docker load`"
        ),
    ),
    Image(
        name="grafana",
        ref=pins.GRAFANA,
        version="12.0.2",
        how="imported from a tarball (docker load), then pushed to the mirror",
        source="github.com/grafana/grafana (refused by this machine's Go module proxy)",
        uid=pins.GRAFANA_UID,
        not_built=(
            "the Go module proxy refuses github.com/grafana/grafana (403: not served here; the project is AGPL), "
            "so neither the server nor its frontend can be built from source on this machine: bring the "
            "upstream image across with `docker save` / `docker load`; `mlplat images build` then pushes it"
        ),
    ),
)

PLATFORM = Image(
    name="platform",
    ref="mlops-platform/platform:0.1.0",  # the default of blueprint `platform.image`; images_for() uses the blueprint's
    version="0.1.0",
    how="services/Dockerfile: pip from PyPI onto the debootstrap Python base",
    source="this repository (constraints.txt pins every Python package)",
    dockerfile="../../Dockerfile",
    base="python",
    uid=pins.PLATFORM_UID,
    differences=("Debian's Python 3.11 (python3, /usr/bin) instead of python:3.11-slim's own build (/usr/local/bin)",),
)

LLM = Image(
    name="llm",
    ref="mlops-platform/llm:0.1.0",  # the platform image's repository and tag with `llm` (llm_ref())
    version="0.1.0",
    how="services/llm/Dockerfile: the platform image plus llama.cpp and MiniLM's files",
    source="this repository; llama-cpp-python from PyPI, compiled for a portable CPU baseline",
    uid=pins.PLATFORM_UID,
    not_built=(
        "`docker build -f services/llm/Dockerfile` builds it (docs/llm.md); `mlplat images build` does not, "
        "because the llm blueprint does not fit this machine's kind cluster (2 CPUs), so it was never run there"
    ),
)


def llm_ref(platform_ref: str) -> str:
    """The LLM image beside the platform's (infra/components/llm_service.llm_image)."""
    repository, _, tag = platform_ref.rpartition(":")
    return f"{repository.rsplit('/', 1)[0]}/llm:{tag}"


LOCAL_REGISTRY = Image(
    name="registry",
    ref=pins.REGISTRY,
    version="3.0.0",
    how="Go module (cmd/registry); runs as the container kind-registry, as kind's local-registry guide",
    source="github.com/distribution/distribution/v3@v3.0.0",
    dockerfile="registry.Dockerfile",
    base="busybox",
    program="registry",
    files=("registry-config.yml",),
    differences=(
        "busybox base (with CA certificates) instead of Alpine",
        "this repository's config.yml (filesystem storage, :5000, no debug port)",
        _STAMPS,
    ),
)

KIND_NODE = Image(
    name="kind-node",
    ref="",  # infra/kind/cluster.yaml's, filled in by images_for()
    version="Kubernetes v1.35.8 for kind v0.33.0",
    how="built by the kind node image build, not by `mlplat images build`",
    source="sigs.k8s.io/kind@v0.33.0 and k8s.io/kubernetes@v1.35.8",
    not_built="the kind node image has a build of its own (kind's node-image recipe); it is pinned by digest",
)

KIND: tuple[Image, ...] = (LOCAL_REGISTRY, KIND_NODE)


def images_for(platform_ref: str = PLATFORM.ref) -> tuple[Image, ...]:
    """Every image a blueprint needs: the deployed ones (with its platform image) and the kind path's."""
    from dataclasses import replace

    return (
        *DEPLOYED,
        replace(PLATFORM, ref=platform_ref),
        replace(LLM, ref=llm_ref(platform_ref)),
        LOCAL_REGISTRY,
        replace(KIND_NODE, ref=node_image()),
    )


def by_name(images: tuple[Image, ...], name: str) -> Image:
    for image in images:
        if image.name == name:
            return image
    raise KeyError(f"no image named {name!r}; choose from: {', '.join(image.name for image in images)}")
