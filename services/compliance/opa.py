"""Open Policy Agent as the platform runs it: `opa eval` here, the OPA server in the cluster.

Both evaluate the same query over the same Rego (policies/compliance/) with the same input document
(evidence.py), so a report from a laptop and the cluster's scheduled check cannot disagree about what a
control means. `opa eval` needs no daemon and starts in a fraction of a second, which suits a command;
the cluster's check runs from the platform image, which has no OPA in it, and asks the OPA server
beside it instead (infra/components/compliance_check.py, ADR 0024).

The binary is the toolchain's pinned build (infra/toolchain.toml: `mlplat toolchain --only policy`),
or the one MLPLAT_OPA names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "POLICY_DIR",
    "QUERY",
    "Evaluator",
    "OpaCli",
    "OpaServer",
    "OpaError",
    "find_opa",
    "policy_files",
]

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies" / "compliance"
QUERY = "data.compliance.report.result"
TEST_SUFFIX = "_test.rego"


class OpaError(RuntimeError):
    """OPA is missing, refused the policies or the input, or the server did not answer."""


class Evaluator(Protocol):
    where: str

    def evaluate(self, document: dict[str, Any]) -> dict[str, Any]: ...


def policy_files(folder: Path = POLICY_DIR) -> list[Path]:
    """The controls and their library, without the tests: what is evaluated and what the cluster loads."""
    return sorted(p for p in folder.glob("*.rego") if not p.name.endswith(TEST_SUFFIX))


def find_opa() -> Path:
    """MLPLAT_OPA, else the toolchain's pinned build, else an `opa` on PATH."""
    explicit = os.environ.get("MLPLAT_OPA")
    if explicit:
        if not Path(explicit).is_file():
            raise OpaError(f"MLPLAT_OPA={explicit}: no such file; point it at an opa binary or unset it")
        return Path(explicit)
    from services.engine.toolchain import bin_dir

    built = bin_dir() / "opa"
    if built.exists():
        return built
    found = shutil.which("opa")
    if found:
        return Path(found)
    raise OpaError(
        "Open Policy Agent is not installed: `mlplat toolchain --only policy` builds the pinned version "
        "(needs Go 1.26; about 5 minutes once, cached), or set MLPLAT_OPA to an opa binary"
    )


class OpaCli:
    """`opa eval` of the report query, the input on standard input."""

    def __init__(self, binary: Path | None = None, folder: Path = POLICY_DIR):
        self.binary = binary or find_opa()
        self.folder = folder
        self.where = f"{self.binary} eval"

    def evaluate(self, document: dict[str, Any]) -> dict[str, Any]:
        args = [str(self.binary), "eval", "--format=json", "--stdin-input"]
        for path in policy_files(self.folder):
            args += ["--data", str(path)]
        done = subprocess.run(
            [*args, QUERY], input=json.dumps(document), capture_output=True, text=True, check=False, timeout=300
        )
        if done.returncode != 0:
            raise OpaError(f"opa eval failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")
        results = json.loads(done.stdout).get("result") or []
        if not results:
            raise OpaError(f"opa eval: {QUERY} is undefined for this input (is input.framework set?)")
        return results[0]["expressions"][0]["value"]


class OpaServer:
    """OPA's REST API: POST /v1/data/compliance/report/result with {"input": ...}."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.where = f"OPA server {self.url}"

    def evaluate(self, document: dict[str, Any]) -> dict[str, Any]:
        path = "/v1/" + QUERY.replace(".", "/")
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps({"input": document}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise OpaError(f"{self.where} answered {exc.code}: {exc.read().decode(errors='replace')[:500]}") from None
        except OSError as exc:
            raise OpaError(f"{self.where} did not answer: {exc}") from None
        if "result" not in answer:
            raise OpaError(f"{self.where}: {QUERY} is undefined (are the compliance policies loaded?)")
        return answer["result"]
