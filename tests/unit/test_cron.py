"""Cron schedules as Kubernetes reads them: matching, the next run, the widest gap, and errors."""

from __future__ import annotations

from datetime import datetime

import pytest

from blueprints.cron import CronError, parse_cron


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("0 3 * * *", datetime(2026, 11, 25, 2, 59), datetime(2026, 11, 25, 3, 0)),
        ("0 3 * * *", datetime(2026, 11, 25, 3, 0), datetime(2026, 11, 26, 3, 0)),  # strictly after
        ("*/15 * * * *", datetime(2026, 11, 25, 10, 7, 30), datetime(2026, 11, 25, 10, 15)),
        ("0 9 * * mon-fri", datetime(2026, 11, 27, 10, 0), datetime(2026, 11, 30, 9, 0)),  # Friday -> Monday
        ("30 2 1,15 * *", datetime(2026, 11, 15, 3, 0), datetime(2026, 12, 1, 2, 30)),
        ("@weekly", datetime(2026, 11, 25, 0, 0), datetime(2026, 11, 29, 0, 0)),  # Sunday midnight
        ("0 0 * * 7", datetime(2026, 11, 25, 0, 0), datetime(2026, 11, 29, 0, 0)),  # 7 is Sunday too
        ("0 0 29 feb *", datetime(2026, 3, 1), datetime(2028, 2, 29, 0, 0)),
    ],
)
def test_next_run_is_the_first_matching_minute_after(schedule, after, expected):
    assert parse_cron(schedule).next_after(after) == expected


def test_day_of_month_and_day_of_week_match_either_when_both_are_restricted():
    schedule = parse_cron("0 0 13 * fri")  # the 13th, and every Friday
    assert schedule.matches(datetime(2026, 11, 13, 0, 0))  # a Friday the 13th
    assert schedule.matches(datetime(2026, 12, 13, 0, 0))  # a Sunday, but the 13th
    assert schedule.matches(datetime(2026, 12, 4, 0, 0))  # a Friday, not the 13th
    assert not schedule.matches(datetime(2026, 12, 5, 0, 0))


@pytest.mark.parametrize(
    ("schedule", "hours"),
    [("0 3 * * *", 24), ("*/5 * * * *", 5 / 60), ("0 9 * * 1-5", 72), ("@weekly", 168), ("30 2 1,15 * *", 17 * 24)],
)
def test_max_interval_is_the_widest_gap_between_runs(schedule, hours):
    assert parse_cron(schedule).max_interval_seconds == hours * 3600


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("daily", "'daily' is not a 5-field cron schedule"),
        ("0 25 * * *", "hour field: 25 is out of range; use 0-23"),
        ("0 3 * * mond", "day of week field: 'mond' is not a number from 0 to 7 or a name"),
        ("*/0 * * * *", "the step after '/' must be a positive number"),
        ("5-1 * * * *", "range 5-1 runs backwards"),
        ("0 0 31 feb *", "never fires"),
    ],
)
def test_a_bad_schedule_names_the_field_and_the_fix(schedule, message):
    with pytest.raises(CronError, match=message):
        _ = parse_cron(schedule).max_interval_seconds
