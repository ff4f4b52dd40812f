"""The local registry: distribution's registry as the container `kind-registry`, as kind's guide runs it.

kind's "Local Registry" guide (https://kind.sigs.k8s.io/docs/user/local-registry/) runs one registry
container, publishes it on the host's loopback (127.0.0.1:5001 -> 5000) so `docker push localhost:5001/...`
works from the host, and connects it to the docker network `kind`, where the nodes reach it by name
(kind-registry:5000). The nodes' containerd is then told that `localhost:5001` is served by
`http://kind-registry:5000` (a hosts.toml per node), and a ConfigMap `local-registry-hosting` in
kube-public documents the registry for tools (KEP-1755). Those last two belong to the cluster's
creation; this module owns the container.

The registry's image is built here (services/images/dockerfiles/registry.Dockerfile) and tagged as the
Docker Official Image it replaces. Its data lives in a named volume, so recreating the container (a new
registry build) keeps what was pushed.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from services.images import docker

__all__ = [
    "CONTAINER", "HOST_PORT", "LOCAL_MIRROR", "NETWORK", "VOLUME", "RegistryError", "connect_to_kind", "ensure_running"
]  # fmt: skip

CONTAINER = "kind-registry"
NETWORK = "kind"
HOST_PORT = 5001
LOCAL_MIRROR = f"localhost:{HOST_PORT}"
VOLUME = "kind-registry-data"
Log = Callable[[str], None]


class RegistryError(RuntimeError):
    """The registry container could not be started or does not answer."""


def _state(name: str) -> dict | None:
    done = docker.docker("container", "inspect", name, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)[0]


def ensure_running(image_ref: str, log: Log | None = None, timeout: float = 30.0) -> None:
    """Start `kind-registry` from `image_ref` unless it runs from that image; connect it to `kind`.

    The network `kind` exists once kind has created a cluster; before that the registry is reachable
    from the host only, and `connect_to_kind()` (or the next call here) joins it afterwards."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    wanted = docker.image_id(image_ref)
    if wanted is None:
        raise RegistryError(f"no local image {image_ref}: build it first (`mlplat images build --only registry`)")
    state = _state(CONTAINER)
    if state is not None and state["Image"] != wanted:
        log(f"images: {CONTAINER} runs an older registry image: replacing the container (the volume {VOLUME} stays)")
        docker.docker("rm", "-f", CONTAINER)
        state = None
    if state is None:
        log(f"images: starting {CONTAINER} on 127.0.0.1:{HOST_PORT} ({image_ref})")
        docker.docker(
            "run", "-d", "--restart=always", "--name", CONTAINER,
            "-p", f"127.0.0.1:{HOST_PORT}:5000", "-v", f"{VOLUME}:/var/lib/registry", image_ref,
        )  # fmt: skip
    elif not state["State"]["Running"]:
        docker.docker("start", CONTAINER)
    connect_to_kind(log)
    _wait_ready(timeout)


def connect_to_kind(log: Log | None = None) -> bool:
    """Join the registry to the `kind` network when it exists; True when it is (now) connected."""
    if docker.docker("network", "inspect", NETWORK, check=False).returncode != 0:
        return False
    state = _state(CONTAINER)
    if state is None:
        return False
    if NETWORK not in (state.get("NetworkSettings") or {}).get("Networks", {}):
        docker.docker("network", "connect", NETWORK, CONTAINER)
        if log:
            log(f"images: {CONTAINER} joined the docker network {NETWORK}")
    return True


def _wait_ready(timeout: float) -> None:
    """The registry answers GET /v2/ with 200 once it serves (the Docker Registry HTTP API's version check)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{HOST_PORT}/v2/"
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.5)
    logs = docker.docker("logs", "--tail", "20", CONTAINER, check=False)
    raise RegistryError(f"{CONTAINER} does not answer {url} after {timeout:.0f}s ({last}); its log:\n{logs.stderr}")
