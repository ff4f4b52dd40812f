"""Feature data for the walkthrough and the tests, generated from iris (it ships with scikit-learn).

Each of the 150 flowers (`flower_id` 1..150) is measured three times: 40, 20 and 2 hours before
`now`, growing from 90 % to 95 % to 100 % of its iris measurements. Its species is labelled 30 and 10
hours before `now`, and at `now`. A point-in-time-correct join gives each label the measurement taken
before it (90 % at -30 h, 95 % at -10 h, 100 % now), never a later one: that is what
`get_historical_features` guarantees and a plain "latest value" join gets wrong. Online, after
materialization, every flower holds its newest measurement (2 hours old, inside a 2-day TTL).
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["MEASUREMENTS", "MEASURED_HOURS_AGO", "LABELLED_HOURS_AGO", "measurements", "labels", "GROWTH"]

MEASUREMENTS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
MEASURED_HOURS_AGO = (40, 20, 2)
GROWTH = (0.90, 0.95, 1.00)  # the share of its iris size a flower has at each measurement
LABELLED_HOURS_AGO = (30, 10, 0)


def _iris():
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def measurements(now: datetime, timestamp_field: str = "event_timestamp"):
    """The offline data of the `flower_measurements` view: one row per flower and measurement."""
    import pandas as pd

    x, _ = _iris()
    rows = []
    for index, features in enumerate(x):
        for hours, growth in zip(MEASURED_HOURS_AGO, GROWTH, strict=True):
            row = {"flower_id": index + 1, timestamp_field: now - timedelta(hours=hours)}
            sizes = zip(MEASUREMENTS, features, strict=True)
            row.update({name: round(float(value) * growth, 4) for name, value in sizes})
            rows.append(row)
    return pd.DataFrame(rows)


def labels(now: datetime):
    """Training rows: (flower_id, event_timestamp, species), the entity rows of a historical join."""
    import pandas as pd

    _, y = _iris()
    return pd.DataFrame(
        [
            {"flower_id": index + 1, "event_timestamp": now - timedelta(hours=hours), "species": int(species)}
            for index, species in enumerate(y)
            for hours in LABELLED_HOURS_AGO
        ]
    )
