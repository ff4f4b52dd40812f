"""The sim cluster's certificates and keys, generated once into `.mlplat/sim/pki/` (owner-only).

What kubeadm generates for a kind node, reduced to what a loopback control plane uses:
- `ca.crt/key`: the cluster CA. It signs the API server's serving certificate and every client
  certificate, and the controller manager signs CSRs with it (as kubeadm configures it).
- `apiserver.crt/key`: serving certificate for 127.0.0.1, localhost and the in-cluster names of the
  `kubernetes` Service (what a pod's client would dial).
- client certificates whose subject is the identity RBAC sees: `kubernetes-admin` in `system:masters`,
  `system:kube-controller-manager`, `system:kube-scheduler`, and kwok (which writes node and pod status
  for every fake node, so it is an admin, not a `system:node:<name>` the Node authorizer would confine).
- `sa.key/pub`: the service-account token signing key pair.
The trade-off: keys are RSA-2048 and EC P-256 generated locally with `cryptography` (no cfssl, no
openssl CLI); certificates last a year, which a throwaway local cluster never outlives.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClientIdentity", "CLIENTS", "SERVICE_IP", "client_tls", "ensure_pki"]

SERVICE_IP = "10.96.0.1"  # the first address of the service range: the `kubernetes` Service
VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class ClientIdentity:
    file: str  # <file>.crt / <file>.key
    user: str  # the certificate's CN: the user name RBAC sees
    groups: tuple[str, ...] = ()  # the certificate's O entries: the groups RBAC sees


CLIENTS = (
    ClientIdentity("admin", "kubernetes-admin", ("system:masters",)),
    ClientIdentity("controller-manager", "system:kube-controller-manager"),
    ClientIdentity("scheduler", "system:kube-scheduler"),
    ClientIdentity("kwok", "kwok-controller", ("system:masters",)),
)


def _write(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _key_pem(key) -> bytes:
    pkcs8, plain = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, pkcs8, plain)


def _certificate(subject: x509.Name, key, issuer: x509.Name, signer, *, ca: bool, extensions=()) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=not ca,
                key_cert_sign=ca,
                crl_sign=ca,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer, hashes.SHA256())


def _issue(pki: Path, name: str, subject: x509.Name, ca_cert, ca_key, extensions) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(subject, key, ca_cert.subject, ca_key, ca=False, extensions=extensions)
    _write(pki / f"{name}.key", _key_pem(key))
    _write(pki / f"{name}.crt", cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(pki: Path) -> Path:
    """Generate whatever is missing under `pki` (existing files are kept, so restarts keep trust)."""
    pki.mkdir(parents=True, exist_ok=True)
    os.chmod(pki, 0o700)
    if not (pki / "ca.crt").exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlplat-sim-ca")])
        ca_cert = _certificate(name, ca_key, name, ca_key, ca=True)
        _write(pki / "ca.key", _key_pem(ca_key))
        _write(pki / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)

    if not (pki / "apiserver.crt").exists():
        names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
        names.append("kubernetes.default.svc.cluster.local")
        alt = [x509.DNSName(n) for n in names]
        alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", SERVICE_IP)]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
        _issue(pki, "apiserver", subject, ca_cert, ca_key, (x509.SubjectAlternativeName(alt), usage))

    for client in CLIENTS:
        if (pki / f"{client.file}.crt").exists():
            continue
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in client.groups]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, client.user))
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
        _issue(pki, client.file, x509.Name(attributes), ca_cert, ca_key, (usage,))

    if not (pki / "sa.key").exists():
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write(pki / "sa.key", _key_pem(sa_key))
        public = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write(pki / "sa.pub", public)
    return pki


def client_tls(ca: str | Path, certificate: str | Path, key: str | Path) -> ssl.SSLContext:
    """A TLS context that trusts the cluster CA and presents a client certificate, for httpx.

    One context, not httpx's `verify=<path>, cert=<pair>`: given a CA path, httpx 0.28 ignores the pair
    and the API server sees `system:anonymous`."""
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(certificate), str(key))
    return context
