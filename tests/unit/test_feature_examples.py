"""The generated example data a feature view is filled with: chosen by the view's key and features, each
with labelled entity rows whose target has two classes or more, the same on every call."""

from __future__ import annotations

from datetime import UTC, datetime

from blueprints import load
from services.features.examples import CUSTOMERS, FLOWERS, example_for

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def _view(blueprint: str, tenant: str):
    store = next(t for t in load(blueprint).tenants if t.name == tenant).features
    view = store.feature_views[0]
    return [store.entity(e).key for e in view.entities], [f.name for f in view.features]


def test_each_shipped_feature_view_is_filled_by_its_example():
    assert example_for(*_view("multi-tenant", "recsys")) is FLOWERS
    assert example_for(*_view("enterprise", "payments")) is CUSTOMERS


def test_a_view_with_other_columns_has_no_example():
    keys, features = _view("enterprise", "payments")
    assert example_for(keys, [*features, "postcode_risk"]) is None
    assert example_for(["account_id"], features) is None


def test_customers_are_labelled_risky_by_their_chargebacks_in_two_classes_deterministically():
    labels = CUSTOMERS.labelled(NOW)
    assert set(labels[CUSTOMERS.target]) == {0, 1}
    offline = CUSTOMERS.offline(NOW, "event_timestamp")
    newest = offline.sort_values("event_timestamp").groupby(CUSTOMERS.key).last()
    assert CUSTOMERS.answers(NOW) == {k: int(row.chargebacks_90d > 2) for k, row in newest.iterrows()}
    assert CUSTOMERS.labelled(NOW).equals(labels)


def test_an_example_s_answers_are_each_entity_s_newest_label():
    answers = FLOWERS.answers(NOW)
    assert sorted(answers) == list(range(1, FLOWERS.count + 1))
    assert (answers[1], answers[51], answers[150]) == (0, 1, 2)  # setosa, versicolor, virginica


def test_offline_rows_hold_the_key_the_timestamp_field_and_every_feature():
    for example in (FLOWERS, CUSTOMERS):
        rows = example.offline(NOW, "measured_at")
        assert list(rows.columns) == [example.key, "measured_at", *example.features]
        assert len(rows) == example.count * len(example.measured_hours_ago)


def test_people_erased_earlier_are_left_out_of_rows_labels_and_answers():
    gone = {7}
    assert 7 not in set(CUSTOMERS.offline(NOW, without=gone)[CUSTOMERS.key])
    assert 7 not in set(CUSTOMERS.labelled(NOW, without=gone)[CUSTOMERS.key])
    assert sorted(CUSTOMERS.answers(NOW, without=gone)) == [k for k in range(1, CUSTOMERS.count + 1) if k != 7]
