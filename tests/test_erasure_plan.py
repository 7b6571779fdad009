"""What an erasure may delete (cloud/accounts/erasure.py): the requester's tenancies minus
co-residents' periods and the building's approved settlement periods; table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.accounts.erasure import (
    ErasurePlan,
    KeptBecause,
    ReadingSpan,
    Tenancy,
    erasure_plan,
    subtract,
    union,
)

SETTLED = KeptBecause.APPROVED_SETTLEMENT
SHARED = KeptBecause.CO_RESIDENT


def d(day: int) -> datetime:
    """Day `day` of 2026 as a UTC instant (days counted from 1 January)."""
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day - 1)


def deleted(flat: str, start: int, end: int, building: str = "B1") -> ReadingSpan:
    return ReadingSpan(building, flat, d(start), d(end))


def kept(flat: str, start: int, end: int, because: KeptBecause) -> ReadingSpan:
    return ReadingSpan("B1", flat, d(start), d(end), because)


CASES = {
    "nothing kept: the whole tenancy goes": (
        [("B1", "F1", 1, 100)],
        {},
        {},
        ErasurePlan((deleted("F1", 1, 100),), ()),
    ),
    "an approved period inside the tenancy is kept, both sides go": (
        [("B1", "F1", 1, 100)],
        {},
        {"B1": [(32, 60)]},
        ErasurePlan((deleted("F1", 1, 32), deleted("F1", 60, 100)), (kept("F1", 32, 60, SETTLED),)),
    ),
    "an approved period overlapping the start is clipped to the tenancy": (
        [("B1", "F1", 10, 100)],
        {},
        {"B1": [(1, 20)]},
        ErasurePlan((deleted("F1", 20, 100),), (kept("F1", 10, 20, SETTLED),)),
    ),
    "another building's approved period does not keep anything": (
        [("B1", "F1", 1, 100)],
        {},
        {"B2": [(1, 100)]},
        ErasurePlan((deleted("F1", 1, 100),), ()),
    ),
    "a co-resident from day 50 keeps the rest of the tenancy": (
        [("B1", "F1", 1, 100)],
        {"F1": [(50, 100)]},
        {},
        ErasurePlan((deleted("F1", 1, 50),), (kept("F1", 50, 100, SHARED),)),
    ),
    "a co-resident of another flat does not keep anything": (
        [("B1", "F1", 1, 100)],
        {"F2": [(1, 100)]},
        {},
        ErasurePlan((deleted("F1", 1, 100),), ()),
    ),
    "both reasons, overlapping: each is listed, the union is kept": (
        [("B1", "F1", 1, 100)],
        {"F1": [(40, 70)]},
        {"B1": [(32, 60), (60, 91)]},
        ErasurePlan(
            (deleted("F1", 1, 32), deleted("F1", 91, 100)),
            (kept("F1", 32, 91, SETTLED), kept("F1", 40, 70, SHARED)),
        ),
    ),
    "everything kept: nothing to delete": (
        [("B1", "F1", 10, 20)],
        {},
        {"B1": [(1, 100)]},
        ErasurePlan((), (kept("F1", 10, 20, SETTLED),)),
    ),
    "two flats, each on its own": (
        [("B1", "F2", 1, 50), ("B1", "F1", 50, 100)],
        {"F1": [(90, 100)]},
        {"B1": [(1, 10)]},
        ErasurePlan(
            (deleted("F1", 50, 90), deleted("F2", 10, 50)),
            (kept("F1", 90, 100, SHARED), kept("F2", 1, 10, SETTLED)),
        ),
    ),
    # moving out: the tenancy is [since, until), made by cloud.accounts.gdpr from the
    # residents' rows (tests/test_api_move_out.py goes through it with a real store)
    "moved out on day 60, erased on day 100: only days 1-60 go, the next tenant's are theirs": (
        [("B1", "F1", 1, 60)],
        {"F1": [(60, 100)]},
        {},
        ErasurePlan((deleted("F1", 1, 60),), ()),
    ),
    "a co-resident who stayed after the move-out keeps the shared time only": (
        [("B1", "F1", 1, 60)],
        {"F1": [(30, 100)]},
        {},
        ErasurePlan((deleted("F1", 1, 30),), (kept("F1", 30, 60, SHARED),)),
    ),
    "an approved run straddling the move-out is kept up to the move-out only": (
        [("B1", "F1", 1, 60)],
        {"F1": [(60, 100)]},
        {"B1": [(32, 91)]},
        ErasurePlan((deleted("F1", 1, 32),), (kept("F1", 32, 60, SETTLED),)),
    ),
    "a former co-resident who moved out earlier keeps their own time": (
        [("B1", "F1", 1, 60)],
        {"F1": [(1, 20)]},
        {},
        ErasurePlan((deleted("F1", 20, 60),), (kept("F1", 1, 20, SHARED),)),
    ),
    "periods touching the tenancy only at its ends keep nothing": (
        [("B1", "F1", 10, 20)],
        {"F1": [(1, 10)]},
        {"B1": [(20, 30)]},
        ErasurePlan((deleted("F1", 10, 20),), ()),
    ),
}


@pytest.mark.parametrize(
    ("tenancies", "co_residents", "approved", "plan"), CASES.values(), ids=CASES
)
def test_erasure_plan(
    tenancies: list[tuple[str, str, int, int]],
    co_residents: dict[str, list[tuple[int, int]]],
    approved: dict[str, list[tuple[int, int]]],
    plan: ErasurePlan,
) -> None:
    def days(spans: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
        return [(d(s), d(e)) for s, e in spans]

    got = erasure_plan(
        [Tenancy(b, f, d(s), d(e)) for b, f, s, e in tenancies],
        {flat: days(spans) for flat, spans in co_residents.items()},
        {building: days(spans) for building, spans in approved.items()},
    )
    assert got == plan


@pytest.mark.parametrize(
    ("interval", "others", "left"),
    [
        ((1, 10), [], [(1, 10)]),
        ((1, 10), [(3, 4), (6, 8)], [(1, 3), (4, 6), (8, 10)]),
        ((1, 10), [(0, 11)], []),
        ((1, 10), [(5, 7), (2, 6)], [(1, 2), (7, 10)]),
    ],
)
def test_subtract(
    interval: tuple[int, int], others: list[tuple[int, int]], left: list[tuple[int, int]]
) -> None:
    got = subtract((d(interval[0]), d(interval[1])), [(d(s), d(e)) for s, e in others])
    assert got == [(d(s), d(e)) for s, e in left]


def test_union_merges_touching_and_drops_empty() -> None:
    assert union([(d(5), d(6)), (d(1), d(3)), (d(3), d(4)), (d(8), d(8))]) == [
        (d(1), d(4)),
        (d(5), d(6)),
    ]
