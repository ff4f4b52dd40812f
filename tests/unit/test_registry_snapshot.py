"""The DR drill's comparison: every field of every item is counted, and each kind of difference is named."""

from __future__ import annotations

from services.registry.snapshot import Snapshot, compare


def registry() -> Snapshot:
    return Snapshot(
        models={"iris": {"description": "classifier", "creation_timestamp": 1, "last_updated_timestamp": 2}},
        versions={"iris/1": {"run_id": "r1", "status": "READY"}, "iris/2": {"run_id": "r2", "status": "READY"}},
        tags={"iris#team": "ds", "iris/1#owner": "ana"},
        aliases={"iris@champion": "1"},
        audit={"h1": {"model": "iris", "version": "1", "decision": "pass"}},
    )


def test_identical_registries_compare_equal_with_every_field_counted():
    result = compare(registry(), registry())
    assert result.equal
    counts = result.as_dict()
    assert counts["models"] == {"items": 1, "matched": 1, "fields": 3, "equal": 3}
    assert counts["versions"] == {"items": 2, "matched": 2, "fields": 4, "equal": 4}
    assert counts["tags"]["fields"] == 2 and counts["aliases"]["fields"] == 1 and counts["audit"]["fields"] == 3
    assert result.fields == 13


def test_a_changed_field_is_named_with_both_values():
    after = registry()
    after.aliases["iris@champion"] = "2"
    after.versions["iris/2"]["status"] = "FAILED_REGISTRATION"
    assert [str(d) for d in compare(registry(), after).differences] == [
        "versions[iris/2].status: expected 'READY', got 'FAILED_REGISTRATION'",
        "aliases[iris@champion].value: expected '1', got '2'",
    ]


def test_missing_and_unexpected_items_are_differences_attributed_to_their_model():
    before, after = registry(), registry()
    del after.versions["iris/2"]
    after.tags["late#team"] = "x"
    after.audit["h2"] = {"model": "late", "version": "1", "decision": "pass"}
    differences = compare(before, after).differences
    assert [str(d) for d in differences] == [
        "versions[iris/2]: missing",
        "tags[late#team]: unexpected",
        "audit[h2]: unexpected",
    ]
    assert [d.model for d in differences] == ["iris", "late", "late"]
    assert compare(before, after).as_dict()["versions"] == {"items": 2, "matched": 1, "fields": 4, "equal": 2}
