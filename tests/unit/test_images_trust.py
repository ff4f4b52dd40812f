"""The extra CA of image builds (services/images/trust.py): one option, never in the images."""

from __future__ import annotations

import pytest

from services.images import trust
from services.images.trust import BuildTrust, TrustError

# A syntactically valid PEM block: the code splits and compares certificates, it never parses them.
CERT = "-----BEGIN CERTIFICATE-----\nTUxPUFMtUExBVEZPUk0tVEVTVC1DQQ==\n-----END CERTIFICATE-----\n"
SHIPPED = "-----BEGIN CERTIFICATE-----\nU0hJUFBFRC1CWS1ERUJJQU4=\n-----END CERTIFICATE-----\n"


@pytest.fixture
def debian_store(tmp_path, monkeypatch):
    store = tmp_path / "mozilla"
    store.mkdir()
    (store / "Shipped_Root.crt").write_text(SHIPPED)
    monkeypatch.setattr(trust, "DEBIAN_CERTIFICATES", store)
    return store


def test_no_option_and_no_variable_means_no_extra_ca_and_no_build_argument():
    none = BuildTrust.from_option(None, environ={})
    assert not none
    assert none.build_args() == {}


def test_the_option_wins_over_the_environment_variable(tmp_path, debian_store):
    option, variable = tmp_path / "option.pem", tmp_path / "variable.pem"
    option.write_text(CERT)
    variable.write_text("not used")
    chosen = BuildTrust.from_option(str(option), environ={trust.ENV_VAR: str(variable)})
    assert chosen.pem == CERT
    assert chosen.build_args() == {"EXTRA_CA_CERTS": CERT}


def test_the_environment_variable_is_read_when_the_option_is_absent(tmp_path, debian_store):
    path = tmp_path / "ca.pem"
    path.write_text(CERT)
    assert BuildTrust.from_option(None, environ={trust.ENV_VAR: str(path)}).pem == CERT


def test_a_whole_bundle_is_reduced_to_the_certificates_debian_does_not_ship(tmp_path, debian_store):
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text(SHIPPED + "\n" + CERT)
    assert BuildTrust.from_option(str(bundle), environ={}).pem == CERT


def test_a_missing_file_and_a_file_without_a_certificate_name_the_option_and_the_fix(tmp_path):
    with pytest.raises(TrustError, match=r"--ca-file: .*missing.pem is not a file"):
        BuildTrust.from_option(str(tmp_path / "missing.pem"), environ={})
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(TrustError, match=r"MLPLAT_BUILD_CA_FILE: .* holds no PEM certificate .*openssl x509"):
        BuildTrust.from_option(None, environ={trust.ENV_VAR: str(der)})


def test_the_host_bundle_holds_the_systems_certificates_and_the_extra_one(tmp_path, debian_store, monkeypatch):
    system = tmp_path / "system.crt"
    system.write_text(SHIPPED)
    monkeypatch.setattr(trust, "SYSTEM_BUNDLE", system)
    path = tmp_path / "ca.pem"
    path.write_text(CERT)
    bundle = BuildTrust.from_option(str(path), environ={}).bundle(tmp_path / "out")
    assert bundle is not None and bundle.read_text() == SHIPPED + CERT
    assert BuildTrust().bundle(tmp_path / "none") is None
