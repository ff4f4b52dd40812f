"""An extra certificate authority for builds: how package downloads get through a TLS-inspecting proxy.

Corporate networks often re-sign HTTPS with their own CA. Every download a build makes (debootstrap's
wget, apt inside a Dockerfile, pip, npm) must then trust that CA, and the images it produces must not:
the CA belongs to the network the image was built on, not to the clusters it runs in.

One option carries it: `mlplat images build --ca-file PEM`, or MLPLAT_BUILD_CA_FILE; nothing by default.
The file may be the proxy's CA alone or a whole bundle that includes it (a machine's
/etc/ssl/certs/ca-certificates.crt): certificates that Debian's ca-certificates package ships are
dropped, since every base image here trusts them already; what is left is the extra CA.
- Host-side steps get a bundle file: the machine's own bundle plus the extra certificates
  (debootstrap through WGETRC, npm through npm_config_cafile).
- Docker builds get the PEM text as the build argument EXTRA_CA_CERTS. The Dockerfiles use it only in
  a build stage and copy the result into a fresh runtime stage, so neither the certificate nor the
  argument appears in the runtime image or its history. A CA certificate is public, so a build
  argument is an acceptable carrier; the legacy builder (no BuildKit) has no build secrets anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuildTrust", "DEBIAN_CERTIFICATES", "ENV_VAR", "SYSTEM_BUNDLE", "TrustError"]

ENV_VAR = "MLPLAT_BUILD_CA_FILE"
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")  # Debian's; what the host's own tools trust
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"
DEBIAN_CERTIFICATES = Path("/usr/share/ca-certificates/mozilla")  # what ca-certificates ships, on Debian hosts
# A build argument is one command-line argument, and Linux caps one at 128 KiB.
_MAX_BYTES = 96 * 1024


class TrustError(ValueError):
    """The extra CA option names something that is not a PEM certificate file."""


@dataclass(frozen=True)
class BuildTrust:
    """The extra CA certificates of one build ("" when there are none)."""

    pem: str = ""
    source: str = ""  # where they came from, for messages

    @classmethod
    def from_option(cls, ca_file: str | None, environ: Mapping[str, str] | None = None) -> BuildTrust:
        """--ca-file wins over MLPLAT_BUILD_CA_FILE; neither means no extra CA."""
        environ = os.environ if environ is None else environ
        option, value = ("--ca-file", ca_file) if ca_file else (ENV_VAR, environ.get(ENV_VAR, ""))
        if not value:
            return cls()
        path = Path(value)
        if not path.is_file():
            raise TrustError(f"{option}: {value} is not a file: name a PEM file holding the proxy's CA certificate")
        text = path.read_text(encoding="ascii", errors="replace")
        if _BEGIN not in text:
            raise TrustError(
                f"{option}: {value} holds no PEM certificate ({_BEGIN} ...): export the CA as PEM, "
                "e.g. `openssl x509 -in ca.der -inform der -out ca.pem`"
            )
        shipped = _debian_certificates()
        certificates = [cert for cert in _certificates(text) if cert not in shipped]
        pem = "".join(certificates)
        if len(pem) > _MAX_BYTES:
            raise TrustError(
                f"{option}: {value} holds {len(certificates)} certificates that Debian does not ship "
                f"({len(pem) // 1024} KiB, more than a build argument can carry): name the proxy's CA alone"
            )
        return cls(pem=pem, source=f"{option} {value}")

    def __bool__(self) -> bool:
        return bool(self.pem)

    def build_args(self) -> dict[str, str]:
        """The docker build argument; empty without an extra CA, so image inputs stay the same."""
        return {"EXTRA_CA_CERTS": self.pem} if self.pem else {}

    def bundle(self, folder: Path) -> Path | None:
        """A bundle file for host-side tools: the system's certificates plus the extra ones."""
        if not self.pem:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        bundle = folder / "build-ca-bundle.pem"
        system = SYSTEM_BUNDLE.read_text(encoding="ascii", errors="replace") if SYSTEM_BUNDLE.exists() else ""
        bundle.write_text(system.rstrip() + "\n" + self.pem, encoding="ascii")
        return bundle


def _certificates(text: str) -> list[str]:
    """Each PEM certificate of a file, normalised (one block per certificate, without surrounding text)."""
    blocks = []
    for chunk in text.split(_BEGIN)[1:]:
        body = chunk.split(_END)[0]
        blocks.append(f"{_BEGIN}\n" + "\n".join(line.strip() for line in body.strip().splitlines()) + f"\n{_END}\n")
    return blocks


def _debian_certificates() -> set[str]:
    if not DEBIAN_CERTIFICATES.is_dir():
        return set()
    found: set[str] = set()
    for path in DEBIAN_CERTIFICATES.glob("*.crt"):
        found.update(_certificates(path.read_text(encoding="ascii", errors="replace")))
    return found
