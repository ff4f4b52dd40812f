"""Customer activity for the enterprise blueprint's personal-data example, generated (no real people).

The payments tenant's `customer_activity` view (blueprints/enterprise.yaml): each customer
(`customer_id` 1..n) is measured 30, 20 and 2 hours before `now`: transactions and their amount over 7
days, chargebacks over 90 days, the account's age. The label of a training row (`risky`) is whether the
customer had more than two chargebacks (customers 3, 4, 8, 9, ...: two customers in five), which is
enough for a model to learn and for an erasure to have something to remove. The demo (through
examples.py), the compliance walkthrough (services/compliance/walkthrough.py) and the erasure test use it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["CUSTOMERS", "FEATURES", "KEY", "MEASURED_HOURS_AGO", "TARGET", "activity", "labels", "risky"]

KEY = "customer_id"
FEATURES = ("txn_count_7d", "txn_amount_7d", "chargebacks_90d", "account_age_days")
MEASURED_HOURS_AGO = (30, 20, 2)
TARGET = "risky"
CUSTOMERS = 40  # customer_id 1..40


def _chargebacks(customer: int) -> int:
    return customer % 5


def risky(customer: int) -> int:
    """A customer's label: 1 with more than two chargebacks in 90 days, else 0."""
    return int(_chargebacks(customer) > 2)


def activity(now: datetime, customers: int = CUSTOMERS, timestamp_field: str = "event_timestamp"):
    """The offline data of the `customer_activity` view: one row per customer and measurement."""
    import pandas as pd

    rows = []
    for customer in range(1, customers + 1):
        for hours in MEASURED_HOURS_AGO:
            rows.append(
                {
                    KEY: customer,
                    timestamp_field: now - timedelta(hours=hours),
                    "txn_count_7d": float(customer % 9 + hours % 5),
                    "txn_amount_7d": float(customer * 13 % 500),
                    "chargebacks_90d": float(_chargebacks(customer)),
                    "account_age_days": float(customer * 11),
                }
            )
    return pd.DataFrame(rows)


def labels(now: datetime, customers: int = CUSTOMERS):
    """Training rows: (customer_id, event_timestamp an hour ago, risky), the entity rows of a historical join."""
    import pandas as pd

    ids = range(1, customers + 1)
    return pd.DataFrame(
        {KEY: ids, "event_timestamp": [now - timedelta(hours=1)] * customers, TARGET: [risky(c) for c in ids]}
    )
