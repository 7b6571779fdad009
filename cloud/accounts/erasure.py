"""What an erasure may delete from the time-series store, as a pure function.

A resident's readings are the flat's readings while they lived there: their tenancy [since,
until), from moving in to moving out (or to the erasure, while they still live there; the
caller, `cloud.accounts.gdpr`, makes the `Tenancy`). Erasure deletes them, except where the law
or others' rights keep them:

- periods of an approved heating settlement of the building: the basis of an approved
  settlement is kept for 5 years (bogføringsloven § 10);
- periods when another resident lived in the same flat (a co-resident, current or moved out):
  those readings are theirs too. A resident who moved in after the requester moved out shares
  no time with them, so the requester's erasure never touches the next tenant's readings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

Interval = tuple[datetime, datetime]
"""[start, end), timezone-aware."""


class KeptBecause(StrEnum):
    APPROVED_SETTLEMENT = "approved_settlement"
    CO_RESIDENT = "co_resident"


@dataclass(frozen=True, slots=True)
class Tenancy:
    building: str
    flat: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ReadingSpan:
    """Readings of one flat in [start, end): deleted, or kept (`because` says why)."""

    building: str
    flat: str
    start: datetime
    end: datetime
    because: KeptBecause | None = None


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    delete: tuple[ReadingSpan, ...]
    kept: tuple[ReadingSpan, ...]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-empty intervals covering the same times."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(interval: Interval, others: Iterable[Interval]) -> list[Interval]:
    start, end = interval
    return [(max(start, s), min(end, e)) for s, e in union(others) if max(start, s) < min(end, e)]


def subtract(interval: Interval, others: Iterable[Interval]) -> list[Interval]:
    start, end = interval
    left: list[Interval] = []
    cursor = start
    for s, e in union(others):
        if e <= cursor or s >= end:
            continue
        if s > cursor:
            left.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        left.append((cursor, end))
    return left


def erasure_plan(
    tenancies: Sequence[Tenancy],
    co_residents: Mapping[str, Sequence[Interval]],
    approved: Mapping[str, Sequence[Interval]],
) -> ErasurePlan:
    """The requester's `tenancies` minus the times another resident lived in the flat
    (`co_residents`: flat → their tenancies) and minus the periods of the building's approved
    settlement runs (`approved`: building → periods). Kept spans are listed per reason (a time
    can be kept for both)."""
    delete: list[ReadingSpan] = []
    kept: list[ReadingSpan] = []
    for t in sorted(tenancies, key=lambda t: (t.building, t.flat, t.start)):
        whole = (t.start, t.end)
        reasons = {
            KeptBecause.APPROVED_SETTLEMENT: approved.get(t.building, ()),
            KeptBecause.CO_RESIDENT: co_residents.get(t.flat, ()),
        }
        for because, intervals in reasons.items():
            kept += [
                ReadingSpan(t.building, t.flat, s, e, because)
                for s, e in intersect(whole, intervals)
            ]
        keep = [i for intervals in reasons.values() for i in intervals]
        delete += [ReadingSpan(t.building, t.flat, s, e) for s, e in subtract(whole, keep)]
    return ErasurePlan(tuple(delete), tuple(kept))
