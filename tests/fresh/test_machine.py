"""The fresh-machine harness's pure parts: what it runs, on what, and what it forwards of this machine.
(The run itself is `make test-fresh`; it needs Docker.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.images.trust import BuildTrust
from tests.fresh import machine

README = (machine.ROOT / "README.md").read_text(encoding="utf-8")


def test_each_scenario_runs_the_readme_quick_start_lines_verbatim():
    script = machine.scenario_script(README, "/srv/repo.bundle")
    clone, test = script.splitlines()[1:]
    assert clone == "git clone /srv/repo.bundle mlops-platform && cd mlops-platform"
    assert test == "make test"
    assert "git clone <this repository> mlops-platform && cd mlops-platform" in README


def test_a_quick_start_without_make_test_is_refused_with_where_to_look():
    with pytest.raises(machine.FreshError, match=r"README.md: the quick start"):
        machine.quick_start("## Quick start\n\n```bash\ngit clone <this repository> x\nmake up\n```\n")


def test_the_fresh_machine_holds_exactly_the_readme_prerequisites():
    prerequisites = re.search(r"What you need first: (.*?)\. Both", README, re.S)
    assert prerequisites is not None
    assert "**git, make and Python 3.11+** (and, as a user other than root, `sudo`)" in prerequisites.group(1)
    assert sorted(machine.FRESH.packages) == ["git", "make", "python3", "sudo"]
    assert machine.FRESH.suite == "bookworm" and machine.FRESH.variant == "minbase"


def test_scenarios_are_root_in_a_private_root_home_and_a_user_with_sudo_in_theirs():
    root, user = machine.SCENARIOS
    assert (root.user, root.home) == ("root", "/root") and "chmod 700 /root" in root.setup
    assert (user.user, user.home) == ("dev", "/home/dev")
    assert "useradd --create-home" in user.setup and "/etc/sudoers.d/dev" in user.setup


def test_without_proxy_or_ca_nothing_of_this_machine_is_forwarded():
    environ = {"PIP_FIND_LINKS": "/opt/wheels", "HOME": "/root", "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"}
    net = machine.network(environ, BuildTrust(), None, 'APT::Architecture "amd64";\n')
    assert net.env == {} and net.files == {}
    assert net.describe() == "nothing (direct access)"


def test_the_proxy_and_pip_index_variables_and_the_debian_mirror_are_forwarded_as_set():
    environ = {
        "HTTPS_PROXY": "http://proxy:3128",
        "no_proxy": "localhost",
        "PIP_INDEX_URL": "https://pypi.example/simple",
        "MLPLAT_DEBIAN_MIRROR": "http://mirror.example/debian",
        "PIP_FIND_LINKS": "/opt/wheels",  # a folder of this machine: a fresh one has no such thing
    }
    net = machine.network(environ, BuildTrust(), None, "")
    assert net.env == {key: value for key, value in environ.items() if key != "PIP_FIND_LINKS"}


def test_apt_proxy_settings_become_an_apt_conf_file_of_their_own():
    dump = 'APT::Architecture "amd64";\nAcquire::http::Proxy "http://proxy:3128";\nAcquire::Check-Date "false";\n'
    net = machine.network({}, BuildTrust(), None, dump)
    assert net.files == {machine.APT_PROXY_CONF: 'Acquire::http::Proxy "http://proxy:3128";\n'}


def test_an_extra_ca_reaches_pip_as_a_mounted_bundle(tmp_path: Path):
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    trust = BuildTrust(pem=pem, source="test")
    bundle = trust.bundle(tmp_path)
    net = machine.network({}, trust, bundle, "")
    assert net.env == {"PIP_CERT": machine.CA_BUNDLE}
    assert net.files[machine.CA_BUNDLE].endswith(pem)
