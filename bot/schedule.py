"""Local time in each city: when campaigns open and close, and the quiet hours of the night.

Campaign files give dates in local time ("opens: 2026-12-01 09:00" is 09:00 in Lyon for Lyon and
09:00 in Montréal for Montréal). Everything stored is UTC; zoneinfo does the conversions, daylight
saving time included.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_to_utc(moment: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time of a city as a UTC instant (a time skipped by DST counts as the one after)."""
    local = moment.replace(tzinfo=zone)
    # A wall time in the spring gap does not exist: zoneinfo reads it with the offset before the
    # change, which lands after the gap once converted; a repeated autumn hour takes its first pass.
    return local.astimezone(UTC)


def in_quiet_hours(now: datetime, zone: ZoneInfo, quiet: tuple[time, time]) -> bool:
    start, end = quiet
    local = now.astimezone(zone).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(now: datetime, zone: ZoneInfo, quiet: tuple[time, time]) -> datetime:
    """`now` if a message may reach someone in this city now, else the end of their quiet hours."""
    if not in_quiet_hours(now, zone, quiet):
        return now
    local = now.astimezone(zone)
    end = quiet[1]
    day = local.date() if local.time() < end else local.date() + timedelta(days=1)
    return local_to_utc(datetime.combine(day, end), zone)
