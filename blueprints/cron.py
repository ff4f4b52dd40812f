"""Cron schedules, the way Kubernetes CronJobs read them: parse, match, find the next run.

Five fields, `minute hour day-of-month month day-of-week`, each `*`, a number, a range `a-b`, a step
`*/n` or `a-b/n`, or a comma list of those; months and weekdays may be names (`jan`, `mon`); `7` is
Sunday like `0`; and the macros `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly`
(`@annually`). As in every cron, when both day fields are restricted a day matches if EITHER does.

The blueprint validates schedules with it (a typo is an error naming the field, not a CronJob that
never runs), the standalone supervisor runs batch and training schedules with it, and the batch job's
"late" alert needs `max_interval_seconds`: the longest gap between two runs of a schedule
("0 9 * * 1-5" runs daily but leaves 72 hours over a weekend). Pure functions, no clock of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

__all__ = ["CronError", "CronSchedule", "parse_cron"]

_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTHS = {
    name: i
    for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, lowest, highest, names)
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)


class CronError(ValueError):
    """A schedule that is not valid cron; the message names the field and gives an example."""


@dataclass(frozen=True)
class CronSchedule:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, when: datetime) -> bool:
        """Whether the schedule fires in the minute `when` falls in."""
        return when.minute in self.minutes and when.hour in self.hours and self._day_matches(when)

    def next_after(self, when: datetime) -> datetime:
        """The first minute strictly after `when` at which the schedule fires (same tzinfo as `when`)."""
        start = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):  # Feb 29 schedules fire within 4 years (+1 for the current one)
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        raise CronError(f"{self.text!r} never fires (e.g. day 31 of a month that has 30 days)")

    @cached_property
    def max_interval_seconds(self) -> int:
        """The longest gap between two consecutive runs, over a 4-year cycle of the calendar.

        Every firing day fires at the same times (hours x minutes), so the widest gap is either inside
        a day or from the last run of one firing day to the first run of the next: one pass over days.
        """
        times = sorted(hour * 60 + minute for hour in self.hours for minute in self.minutes)
        widest = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0)
        epoch = datetime(2024, 1, 1)  # a leap year first, so every month length occurs in the cycle
        firing = [n for n in range(4 * 366 + 1) if self._day_matches(epoch + timedelta(days=n))]
        if not firing:
            raise CronError(f"{self.text!r} never fires (e.g. day 31 of a month that has 30 days)")
        for today, following in zip(firing, firing[1:], strict=False):
            widest = max(widest, (following - today) * 1440 - times[-1] + times[0])
        if len(firing) == 1:  # once in four years (Feb 29)
            widest = max(widest, 4 * 365 * 1440)
        return widest * 60

    def _day_matches(self, when: datetime) -> bool:
        if when.month not in self.months:
            return False
        in_days = when.day in self.days
        in_weekdays = (when.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays


def parse_cron(text: str) -> CronSchedule:
    """A schedule from its text, or a `CronError` that says which field is wrong and how."""
    if not isinstance(text, str) or not text.strip():
        raise CronError('a schedule is a 5-field cron expression (e.g. "0 3 * * *": every day at 03:00)')
    expanded = _MACROS.get(text.strip().lower(), text)
    fields = expanded.split()
    if len(fields) != 5:
        raise CronError(
            f"{text!r} is not a 5-field cron schedule (minute hour day-of-month month day-of-week, "
            'e.g. "0 3 * * *"), or one of ' + ", ".join(_MACROS)
        )
    sets = [_field(value, *spec) for value, spec in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(0 if day == 7 else day for day in sets[4])
    return CronSchedule(
        text=text,
        minutes=sets[0],
        hours=sets[1],
        days=sets[2],
        months=sets[3],
        weekdays=weekdays,
        days_restricted=fields[2] != "*",
        weekdays_restricted=fields[4] != "*",
    )


def _field(value: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    out: set[int] = set()
    for part in value.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} field {value!r}: the step after '/' must be a positive number")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        elif "-" in body:
            first_text, _, last_text = body.partition("-")
            first, last = _number(first_text, name, low, high, names), _number(last_text, name, low, high, names)
            if first > last:
                raise CronError(f"{name} field {value!r}: range {body} runs backwards; write it low-high")
        else:
            first = _number(body, name, low, high, names)
            last = high if step_text else first
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        allowed = f" or a name ({', '.join(names)})" if names else ""
        raise CronError(f"{name} field: {text!r} is not a number from {low} to {high}{allowed}")
    number = int(text)
    if not low <= number <= high:
        raise CronError(f"{name} field: {number} is out of range; use {low}-{high}")
    return number
