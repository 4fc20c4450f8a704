"""Numbers, shares and dates as a French or English reader writes them (Babel)."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from digests.model import Figure


def number(value: float, language: str) -> str:
    return format_decimal(value, locale=language)


def count(figure: Figure, language: str, k: int) -> str:
    """A count, or "< k" where it is hidden."""
    return f"< {k}" if figure.count is None else number(figure.count, language)


def share(figure: Figure, language: str) -> str:
    return "" if figure.share is None else format_percent(figure.share, locale=language)


def change(figure: Figure, language: str) -> str:
    """Percentage points since the previous digest: "+4 pts", "−2 pts"; blank when unknown."""
    if figure.change is None:
        return ""
    points = round(figure.change)
    if points == 0:
        return "="
    sign = "+" if points > 0 else "−"
    return f"{sign}{number(abs(points), language)} pts"


def day(moment: datetime, language: str) -> str:
    return format_date(moment.date(), format="long", locale=language)


def period(start: datetime, end: datetime, language: str) -> tuple[str, str]:
    """First and last day covered; the end is exclusive, so a period ending at midnight or at 08:00
    on Monday is reported as ending on that Monday only when it covers some of it."""
    last = end - timedelta(microseconds=1)
    return day(start, language), day(last, language)
