"""kubectl against the sim cluster, and the readiness of what the platform runs on it.

`readiness()` is the pure part: desired and ready replicas of one Deployment or StatefulSet as the API
server reports them (kwok marks the simulated pods Ready). `not_ready()` and `wait_ready()` are the
shell that lists them with the pinned kubectl.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["KubectlError", "kubectl", "not_ready", "readiness", "wait_ready"]


class KubectlError(RuntimeError):
    def __init__(self, argv: Sequence[str], output: str):
        self.argv, self.output = list(argv), output
        super().__init__(f"`{' '.join(argv)}` failed:\n{output.strip()}")


def kubectl(kubectl_bin: str, kubeconfig: Path, context: str, *args: str, input: str | None = None) -> str:
    argv = [kubectl_bin, f"--kubeconfig={kubeconfig}", f"--context={context}", *args]
    done = subprocess.run(argv, input=input, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise KubectlError(argv, done.stdout + done.stderr)
    return done.stdout


def readiness(item: Mapping[str, Any]) -> dict[str, Any]:
    """kind, namespace, name, desired and ready replicas of a Deployment or StatefulSet."""
    meta = item["metadata"]
    return {
        "kind": item["kind"],
        "namespace": meta.get("namespace", ""),
        "name": meta["name"],
        "desired": item["spec"].get("replicas", 1),
        "ready": item.get("status", {}).get("readyReplicas", 0),
    }


def not_ready(kubectl_bin: str, kubeconfig: Path, context: str) -> list[str]:
    """'<Kind> <ns>/<name> <ready>/<desired>' for every Deployment and StatefulSet not fully ready."""
    listing = json.loads(kubectl(kubectl_bin, kubeconfig, context, "get", "deployments,statefulsets", "-A", "-o=json"))
    rows = [readiness(item) for item in listing["items"]]
    return [
        f"{r['kind']} {r['namespace']}/{r['name']} {r['ready']}/{r['desired']}"
        for r in rows
        if r["ready"] < r["desired"]
    ]


def wait_ready(kubectl_bin: str, kubeconfig: Path, context: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while short := not_ready(kubectl_bin, kubeconfig, context):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout:.0f}s: " + "; ".join(short))
        time.sleep(1.0)
