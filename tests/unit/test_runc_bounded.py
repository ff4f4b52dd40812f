"""The runc wrapper for a Docker that cannot start privileged containers (tests/kind_node/runc_bounded.py):
it removes only what the bounding set lacks, and leaves a spec within it untouched."""

from __future__ import annotations

import json

from tests.kind_node import runc_bounded

ALL = (1 << len(runc_bounded.CAPABILITIES)) - 1
WITHOUT_SYS_RESOURCE = ALL & ~(1 << runc_bounded.CAPABILITIES.index("SYS_RESOURCE"))


def test_a_capability_outside_the_bounding_set_is_removed_from_every_set():
    spec = {"bounding": ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"], "effective": ["CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]}
    assert runc_bounded.within(spec, WITHOUT_SYS_RESOURCE) == {
        "bounding": ["CAP_SYS_ADMIN"],
        "effective": ["CAP_NET_ADMIN"],
    }


def test_within_a_full_bounding_set_nothing_changes_and_unknown_names_pass_through():
    spec = {"permitted": ["CAP_SYS_RESOURCE", "CAP_SOMETHING_NEW"]}
    assert runc_bounded.within(spec, ALL) == spec


def test_a_bundle_spec_is_rewritten_in_place_only_when_it_asks_for_too_much(tmp_path, monkeypatch):
    monkeypatch.setattr(runc_bounded, "bounding_set", lambda: WITHOUT_SYS_RESOURCE)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"process": {"capabilities": {"bounding": ["CAP_SYS_RESOURCE", "CAP_KILL"]}}}))
    runc_bounded.rewrite(str(config), "process", "capabilities")
    assert json.loads(config.read_text())["process"]["capabilities"] == {"bounding": ["CAP_KILL"]}
    untouched = '{"process": {"capabilities": {"bounding": ["CAP_KILL"]}}, "extra": 1}'
    config.write_text(untouched)
    runc_bounded.rewrite(str(config), "process", "capabilities")
    assert config.read_text() == untouched
