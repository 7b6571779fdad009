"""Settlement periods: calendar months in Danish local time (Europe/Copenhagen), pure functions.

A period is a run of whole local calendar months. Inside, every instant is timezone-aware UTC:
``[start, end)`` are the UTC instants of local midnight on the first day of the first month and
of the month after the last. So a Danish March (summer time starts) has 743 hours, October (summer
time ends) 745, every other month 24 x days. Statements, exports and the comfort index name the
*local* dates (DOMAIN.md, "Practicalities of Danish finance departments").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

LOCAL_TZ_NAME: Final = "Europe/Copenhagen"
LOCAL_TZ: Final = ZoneInfo(LOCAL_TZ_NAME)
HOUR: Final = timedelta(hours=1)


class PeriodError(ValueError):
    """A period cannot be read; the message says how to write it (Danish / English)."""


def local_midnight(day: date) -> datetime:
    """The UTC instant of local midnight starting ``day`` (Copenhagen)."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def _first_of(year: int, month: int) -> date:
    y, m = divmod(month - 1, 12)
    return date(year + y, m + 1, 1)


def month_bounds(year: int, month: int, months: int = 1) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of ``months`` local calendar months from ``year-month``."""
    if months < 1:
        raise PeriodError("en periode er mindst én måned / a period is at least one month")
    return local_midnight(_first_of(year, month)), local_midnight(_first_of(year, month + months))


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``2026-03`` or ``2025-10..2026-04`` (inclusive months, local) -> UTC ``[start, end)``."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:\.\.(\d{4})-(\d{2}))?", text.strip())
    if not m or not 1 <= int(m[2]) <= 12 or (m[4] and not 1 <= int(m[4]) <= 12):
        raise PeriodError(
            f"perioden {text!r} skal skrives ÅÅÅÅ-MM eller ÅÅÅÅ-MM..ÅÅÅÅ-MM / "
            f"period {text!r} must be YYYY-MM or YYYY-MM..YYYY-MM"
        )
    y1, m1 = int(m[1]), int(m[2])
    y2, m2 = (int(m[3]), int(m[4])) if m[3] else (y1, m1)
    months = (y2 - y1) * 12 + m2 - m1 + 1
    if months < 1:
        raise PeriodError(
            f"perioden {text!r} slutter før den starter / period {text!r} ends before it starts"
        )
    return month_bounds(y1, m1, months)


def local_date(t: datetime) -> date:
    """The local (Copenhagen) calendar date of an aware instant."""
    if t.tzinfo is None:
        raise ValueError("naive datetime: time must be timezone-aware")
    return t.astimezone(LOCAL_TZ).date()


def first_and_last_day(start: datetime, end: datetime) -> tuple[date, date]:
    """The local first and last day of ``[start, end)`` (as on statements)."""
    return local_date(start), local_date(end - HOUR)


def month_label(t: datetime) -> str:
    """``YYYY-MM`` of the local month an instant falls in."""
    return f"{t.astimezone(LOCAL_TZ):%Y-%m}"


def period_label(start: datetime, end: datetime) -> str:
    """``2026-03`` or ``2025-10..2026-04`` for a period of local months."""
    first, last = month_label(start), month_label(end - HOUR)
    return first if first == last else f"{first}..{last}"


def months_between(start: datetime, end: datetime) -> int:
    first, last = first_and_last_day(start, end)
    return (last.year - first.year) * 12 + last.month - first.month + 1


def current_month(now: datetime) -> tuple[datetime, datetime]:
    """The local calendar month containing ``now``."""
    local = now.astimezone(LOCAL_TZ)
    return month_bounds(local.year, local.month)


def floor_local_day(t: datetime) -> datetime:
    """The UTC instant of the local midnight at or before ``t``."""
    return local_midnight(local_date(t))


@dataclass(frozen=True, eq=False)
class LocalHours:
    """Per UTC hour of a period: its local month, local day (0-based index) and hour of week."""

    month: npt.NDArray[np.int64]
    day: npt.NDArray[np.int64]
    """Index of the local calendar day, 0 for the period's first day; days have 23-25 hours."""
    hour_of_week: npt.NDArray[np.int64]
    """Local weekday x 24 + local hour (Monday 00 = 0); the DST change repeats or skips one."""

    @property
    def day_starts(self) -> npt.NDArray[np.int64]:
        """Index of each local day's first hour (for ``np.add.reduceat``)."""
        starts = np.flatnonzero(np.diff(self.day, prepend=-1))
        return starts.astype(np.int64)


def local_hours(start: datetime, hours: int) -> LocalHours:
    """The local calendar of ``hours`` UTC hours from ``start`` (aware)."""
    if start.tzinfo is None:
        raise ValueError("naive datetime: start must be timezone-aware UTC")
    locals_ = [(start + i * HOUR).astimezone(LOCAL_TZ) for i in range(hours)]
    first = locals_[0].date() if locals_ else local_date(start)
    month = np.fromiter((t.month for t in locals_), dtype=np.int64, count=hours)
    day = np.fromiter(((t.date() - first).days for t in locals_), dtype=np.int64, count=hours)
    how = np.fromiter((t.weekday() * 24 + t.hour for t in locals_), dtype=np.int64, count=hours)
    return LocalHours(month, day, how)
