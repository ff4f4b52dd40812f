"""The example data a feature view can be filled with: one generated dataset per shipped example.

A blueprint's feature view names its entity's join key and its features; the data behind it is the
team's own. For the walkthrough (`mlplat demo`) and the tests, two views have generated data:

    flower    flower_id + the iris measurements     (multi-tenant: recsys/flower_measurements)
              dataset.py: 150 flowers, species labelled three times
    customer  customer_id + 7-day activity,          (enterprise: payments/customer_activity, personal data)
              chargebacks, account age
              customers.py: 40 customers, labelled risky or not an hour ago

An `Example` is what a consumer needs, whatever the example: the entity's key, the features, the
offline rows (one per entity and event time) and the labelled entity rows of a historical join, with
the target column. `example_for` picks the one a view matches by its key and features, exactly: a view
with other columns gets None, and its caller says what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.features import customers, dataset

__all__ = ["CUSTOMERS", "EXAMPLES", "FLOWERS", "Example", "example_for"]


@dataclass(frozen=True)
class Example:
    entity: str  # what a row is about, for the narration: "flower", "customer"
    key: str  # the join key a request carries
    features: tuple[str, ...]
    target: str  # the labels' class column
    generate_offline: Callable[[datetime, str], Any]  # (now, timestamp field) -> key, timestamp, features
    generate_labelled: Callable[[datetime], Any]  # now -> key, event_timestamp, target
    count: int  # how many entities (keys 1..count)
    measured_hours_ago: tuple[int, ...]

    def fits(self, keys: Sequence[str], features: Sequence[str]) -> bool:
        return list(keys) == [self.key] and list(features) == list(self.features)

    def offline(self, now: datetime, timestamp_field: str = "event_timestamp", without: Collection[int] = ()):
        """The view's offline rows, one per entity and event time; none for the keys in `without` (people
        erased earlier are not written back)."""
        rows = self.generate_offline(now, timestamp_field)
        return rows[~rows[self.key].isin(list(without))].reset_index(drop=True)

    def labelled(self, now: datetime, without: Collection[int] = ()):
        """The labelled entity rows of a historical join (key, event_timestamp, target), without `without`."""
        rows = self.generate_labelled(now)
        return rows[~rows[self.key].isin(list(without))].reset_index(drop=True)

    def answers(self, now: datetime, without: Collection[int] = ()) -> dict[int, int]:
        """Each entity's newest label: what a served model should answer for its key."""
        rows = self.labelled(now, without).sort_values("event_timestamp")
        return {int(k): int(v) for k, v in rows.groupby(self.key)[self.target].last().items()}

    def describe(self) -> str:
        hours = ", ".join(f"-{h}h" for h in self.measured_hours_ago)
        return f"{self.count} {self.entity}s measured {len(self.measured_hours_ago)} times each ({hours})"


FLOWERS = Example(
    entity="flower",
    key="flower_id",
    features=dataset.MEASUREMENTS,
    target="species",
    generate_offline=dataset.measurements,
    generate_labelled=dataset.labels,
    count=150,
    measured_hours_ago=dataset.MEASURED_HOURS_AGO,
)

CUSTOMERS = Example(
    entity="customer",
    key=customers.KEY,
    features=customers.FEATURES,
    target=customers.TARGET,
    generate_offline=lambda now, timestamp_field: customers.activity(now, timestamp_field=timestamp_field),
    generate_labelled=customers.labels,
    count=customers.CUSTOMERS,
    measured_hours_ago=customers.MEASURED_HOURS_AGO,
)

EXAMPLES = (FLOWERS, CUSTOMERS)


def example_for(keys: Sequence[str], features: Sequence[str]) -> Example | None:
    """The example whose data fills a view with these join keys and features, or None."""
    return next((e for e in EXAMPLES if e.fits(keys, features)), None)
