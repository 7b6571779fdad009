"""The legal deadline for heating statements, as pure functions.

Statements must reach the tenants within 4 months of the end of the accounting year (DOMAIN.md;
lejeloven / BEK 734). Without a configured accounting year the settled period is the accounting
year, so a period ending 30 April must have approved statements by 31 August. With the
building's ``accounting_year_end_month`` (registry), a monthly run belongs to the accounting year
that ends with the first such month at or after the period's last month.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from cloud.settlement.periods import first_and_last_day

MONTHS_AFTER_YEAR_END: Final = 4
WARN_DAYS_BEFORE: Final = 30
"""Warn this many days before the deadline when the period is not yet approved."""


class DeadlineState(StrEnum):
    MET = "met"
    """Approved on or before the deadline."""
    LATE = "late"
    """Approved after the deadline."""
    OPEN = "open"
    """Not approved yet; more than ``WARN_DAYS_BEFORE`` days left."""
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class Deadline:
    accounting_year_end: date
    deadline: date
    state: DeadlineState
    days_left: int
    """Days from ``today`` to the deadline (negative when passed)."""

    @property
    def warning(self) -> str | None:
        """A Danish / English warning for finance, or None when nothing needs doing."""
        if self.state is DeadlineState.OVERDUE:
            return (
                f"Fristen for at sende godkendte opgørelser var {self.deadline.isoformat()} "
                f"({-self.days_left} dage siden): godkend kørslen nu / the deadline for approved "
                f"statements was {self.deadline.isoformat()} ({-self.days_left} days ago): "
                "approve the run now"
            )
        if self.state is DeadlineState.DUE_SOON:
            return (
                f"Opgørelserne skal være godkendt og sendt senest {self.deadline.isoformat()} "
                f"(om {self.days_left} dage) / statements must be approved and sent by "
                f"{self.deadline.isoformat()} ({self.days_left} days left)"
            )
        if self.state is DeadlineState.LATE:
            return (
                f"Godkendt efter fristen {self.deadline.isoformat()} / approved after the "
                f"deadline {self.deadline.isoformat()}"
            )
        return None


def _month_end(year: int, month: int) -> date:
    y, m = divmod(month - 1, 12)
    return date(year + y, m + 1, monthrange(year + y, m + 1)[1])


def accounting_year_end(
    period_start: datetime, period_end: datetime, year_end_month: int | None = None
) -> date:
    """The last local day of the accounting year a period belongs to."""
    _, last = first_and_last_day(period_start, period_end)
    if year_end_month is None:
        return last
    if not 1 <= year_end_month <= 12:
        raise ValueError(f"accounting year end month {year_end_month} must be 1-12")
    ahead = (year_end_month - last.month) % 12
    return _month_end(last.year, last.month + ahead)


def statement_deadline(
    period_start: datetime, period_end: datetime, year_end_month: int | None = None
) -> date:
    """The last day for approved statements: 4 months after the accounting year's end."""
    end = accounting_year_end(period_start, period_end, year_end_month)
    return _month_end(end.year, end.month + MONTHS_AFTER_YEAR_END)


def deadline_status(
    period_start: datetime,
    period_end: datetime,
    today: date,
    approved_on: date | None,
    year_end_month: int | None = None,
) -> Deadline:
    """Where a period stands against its deadline on ``today``."""
    year_end = accounting_year_end(period_start, period_end, year_end_month)
    deadline = statement_deadline(period_start, period_end, year_end_month)
    days_left = (deadline - today).days
    if approved_on is not None:
        state = DeadlineState.MET if approved_on <= deadline else DeadlineState.LATE
    elif days_left < 0:
        state = DeadlineState.OVERDUE
    elif days_left <= WARN_DAYS_BEFORE:
        state = DeadlineState.DUE_SOON
    else:
        state = DeadlineState.OPEN
    return Deadline(year_end, deadline, state, days_left)
