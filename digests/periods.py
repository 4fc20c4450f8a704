"""Which period a digest covers, in the city's local time (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEK = timedelta(days=7)


class PeriodError(ValueError):
    """A --period the command line cannot read."""


@dataclass(frozen=True)
class Period:
    """Start included, end excluded; both timezone-aware."""

    start: datetime
    end: datetime

    def previous(self) -> Period:
        """The period of the same length just before, for the changes since the previous digest."""
        length = self.end - self.start
        return Period(self.start - length, self.start)

    def utc(self) -> Period:
        return Period(self.start.astimezone(UTC), self.end.astimezone(UTC))


def last_weekly_boundary(now: datetime, zone: ZoneInfo, day: str, at: str) -> datetime:
    """The latest scheduled moment (e.g. Monday 08:00 local) at or before ``now``."""
    local = now.astimezone(zone)
    hours, minutes = (int(part) for part in at.split(":"))
    days_back = (local.weekday() - WEEKDAYS.index(day)) % 7
    candidate_day = local.date() - timedelta(days=days_back)
    candidate = datetime.combine(candidate_day, time(hours, minutes), tzinfo=zone)
    if candidate > local:
        candidate = datetime.combine(candidate_day - WEEK, time(hours, minutes), tzinfo=zone)
    return candidate


def weekly_period(now: datetime, zone: ZoneInfo, day: str, at: str) -> Period:
    """The last full week that ended at the latest scheduled moment.

    Computed on local dates, so a week across a daylight-saving change is still Monday to Monday.
    """
    end = last_weekly_boundary(now, zone, day, at)
    start_day = end.date() - WEEK
    return Period(datetime.combine(start_day, end.timetz().replace(tzinfo=None), tzinfo=zone), end)


_SPAN = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def parse_period(text: str, zone: ZoneInfo) -> Period:
    """``2026-11-23..2026-11-29``: from the first day's start to the end of the last day, local time."""
    match = _SPAN.match(text.strip())
    if match is None:
        raise PeriodError(f"{text!r} is not a period: write it like 2026-11-23..2026-11-29 "
                          "(first and last day, both included)")
    try:
        first, last = date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))
    except ValueError as exc:
        raise PeriodError(f"{text!r}: {exc}") from None
    if last < first:
        raise PeriodError(f"{text!r}: the last day is before the first")
    return Period(datetime.combine(first, time(0), tzinfo=zone),
                  datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone))
