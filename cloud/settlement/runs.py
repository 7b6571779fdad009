"""Settlement runs: recorded inputs, draft -> checked -> approved, then immutable.

A run records what it takes to reproduce it: building, period, cost, tariff version, the tariff's
values and hash, the SHA-256 of the canonicalised input data, each flat's data coverage, and the
CSV it produced. Stored with SQLAlchemy (SQLite by default; any SQLAlchemy URL, e.g. PostgreSQL).
An approved run can be neither changed nor deleted: the store refuses, and an ORM hook refuses
again for code that goes around the store.

Corrections: at most one approved run is *in force* per building and period. A wrong approved
run is never changed; a correction run names the run it supersedes and why (``supersedes``,
``reason``); when the correction is approved it is in force and the old one is kept, superseded.
A new ordinary run for a period that already has a run in force is refused (make a correction).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from cloud.settlement.model import RunRef, SettlementResult


class RunState(StrEnum):
    DRAFT = "draft"
    CHECKED = "checked"
    APPROVED = "approved"


class RunImmutable(RuntimeError):
    """An approved run cannot change; make a new run (e.g. a correction) instead."""


class RunNotFound(KeyError):
    pass


class CorrectionError(ValueError):
    """A run would leave two runs in force for one building and period, or a correction is
    malformed; the message says what to do (Danish / English)."""


class _Base(DeclarativeBase):
    pass


class _RunRow(_Base):
    __tablename__ = "settlement_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    building_id: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[str] = mapped_column(String(32))
    period_end: Mapped[str] = mapped_column(String(32))
    cost_ore: Mapped[int] = mapped_column(Integer)
    total_ore: Mapped[int] = mapped_column(Integer)
    tariff_version: Mapped[str] = mapped_column(String(64))
    tariff_sha256: Mapped[str] = mapped_column(String(64))
    tariff_json: Mapped[str] = mapped_column(Text)
    input_sha256: Mapped[str] = mapped_column(String(64))
    coverage_json: Mapped[str] = mapped_column(Text)
    statement_date: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(16), default=RunState.DRAFT.value)
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(128))
    checked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    approved_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    csv: Mapped[bytes] = mapped_column(LargeBinary)
    supersedes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


_ADDED_COLUMNS = {"supersedes": "INTEGER", "reason": "TEXT"}
"""Columns added after the first release: added to an existing table when the store opens."""


def _was_approved(row: _RunRow) -> bool:
    history = inspect(row).attrs.state.history
    before = history.deleted[0] if history.deleted else row.state
    return bool(before == RunState.APPROVED.value)


@event.listens_for(_RunRow, "before_update")
def _refuse_update(_mapper: Any, _conn: Any, row: _RunRow) -> None:
    if _was_approved(row):
        raise RunImmutable(f"kørsel {row.id} er godkendt og kan ikke ændres / run is approved")


@event.listens_for(_RunRow, "before_delete")
def _refuse_delete(_mapper: Any, _conn: Any, row: _RunRow) -> None:
    if _was_approved(row):
        raise RunImmutable(f"kørsel {row.id} er godkendt og kan ikke slettes / run is approved")


_SQLITE_GUARDS = (
    """CREATE TRIGGER IF NOT EXISTS settlement_runs_immutable_update
    BEFORE UPDATE ON settlement_runs WHEN OLD.state = 'approved'
    BEGIN SELECT RAISE(ABORT, 'approved settlement run is immutable'); END""",
    """CREATE TRIGGER IF NOT EXISTS settlement_runs_immutable_delete
    BEFORE DELETE ON settlement_runs WHEN OLD.state = 'approved'
    BEGIN SELECT RAISE(ABORT, 'approved settlement run is immutable'); END""",
)
"""Database-level guard on SQLite for SQL that bypasses the ORM (PostgreSQL: add the equivalent
trigger in its migration)."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    building_id: str
    period_start: str
    period_end: str
    cost_ore: int
    total_ore: int
    tariff_version: str
    tariff_sha256: str
    input_sha256: str
    coverage_pct: dict[str, float]
    statement_date: str
    state: RunState
    created_at: str
    created_by: str
    checked_by: str | None
    approved_by: str | None
    approved_at: str | None
    csv: bytes
    supersedes: int | None = None
    reason: str | None = None

    @property
    def ref(self) -> RunRef:
        return RunRef(self.id, self.supersedes, self.reason or "")


def _record(row: _RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        building_id=row.building_id,
        period_start=row.period_start,
        period_end=row.period_end,
        cost_ore=row.cost_ore,
        total_ore=row.total_ore,
        tariff_version=row.tariff_version,
        tariff_sha256=row.tariff_sha256,
        input_sha256=row.input_sha256,
        coverage_pct=json.loads(row.coverage_json),
        statement_date=row.statement_date,
        state=RunState(row.state),
        created_at=row.created_at,
        created_by=row.created_by,
        checked_by=row.checked_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        csv=row.csv,
        supersedes=row.supersedes,
        reason=row.reason,
    )


def _fill(row: _RunRow, result: SettlementResult, csv: bytes) -> None:
    row.building_id = result.building_id
    row.period_start = result.period_start.isoformat()
    row.period_end = result.period_end.isoformat()
    row.cost_ore = result.cost_ore
    row.total_ore = result.total_ore
    row.tariff_version = result.tariff.version
    row.tariff_sha256 = result.tariff_sha256
    row.tariff_json = result.tariff.model_dump_json()
    row.input_sha256 = result.input_sha256
    row.coverage_json = json.dumps({s.flat_id: s.coverage_pct for s in result.statements})
    row.statement_date = result.statement_date.isoformat()
    row.csv = csv


class RunStore:
    """Settlement runs in a SQL database (``sqlite:///runs.db`` by default)."""

    def __init__(self, url: str = "sqlite:///settlement_runs.db") -> None:
        self._engine = create_engine(url)
        _Base.metadata.create_all(self._engine)
        have = {c["name"] for c in inspect(self._engine).get_columns(_RunRow.__tablename__)}
        with self._engine.begin() as conn:
            for name, sql_type in _ADDED_COLUMNS.items():
                if name not in have:
                    conn.execute(text(f"ALTER TABLE settlement_runs ADD COLUMN {name} {sql_type}"))
        if self._engine.dialect.name == "sqlite":
            with self._engine.begin() as conn:
                for ddl in _SQLITE_GUARDS:
                    conn.execute(text(ddl))

    def close(self) -> None:
        self._engine.dispose()

    def _row(self, session: Session, run_id: int) -> _RunRow:
        row = session.get(_RunRow, run_id)
        if row is None:
            raise RunNotFound(f"kørsel {run_id} findes ikke / run {run_id} does not exist")
        return row

    def create(
        self,
        result: SettlementResult,
        csv: bytes | Callable[[RunRef], bytes],
        *,
        created_by: str,
        now: datetime | None = None,
        supersedes: int | None = None,
        reason: str | None = None,
    ) -> int:
        """Record a new draft run; returns its id.

        ``csv`` may be a function of the run (its id, and what it supersedes), so that the
        exports carry the run ids. A correction names the approved run in force it supersedes
        and a reason; an ordinary run for a period with a run in force is refused."""
        with Session(self._engine) as session, session.begin():
            self._check_correction(session, result, supersedes, reason)
            row = _RunRow(state=RunState.DRAFT.value, created_by=created_by)
            row.created_at = (now or datetime.now(UTC)).isoformat()
            row.supersedes = supersedes
            row.reason = reason.strip() if reason else None
            _fill(row, result, b"")
            session.add(row)
            session.flush()
            ref = RunRef(row.id, supersedes, row.reason or "")
            row.csv = csv(ref) if callable(csv) else csv
            return row.id

    def _in_force(
        self, session: Session, building_id: str, period_start: str, period_end: str
    ) -> _RunRow | None:
        approved = session.scalars(
            select(_RunRow).where(
                _RunRow.building_id == building_id,
                _RunRow.period_start == period_start,
                _RunRow.period_end == period_end,
                _RunRow.state == RunState.APPROVED.value,
            )
        ).all()
        superseded = {r.supersedes for r in approved}
        current = [r for r in approved if r.id not in superseded]
        return max(current, key=lambda r: r.id) if current else None

    def in_force(
        self, building_id: str, period_start: datetime, period_end: datetime
    ) -> RunRecord | None:
        """The approved run in force for a building and period (None if none is approved)."""
        with Session(self._engine) as session:
            row = self._in_force(
                session, building_id, period_start.isoformat(), period_end.isoformat()
            )
            return None if row is None else _record(row)

    def _check_correction(
        self,
        session: Session,
        result: SettlementResult,
        supersedes: int | None,
        reason: str | None,
    ) -> None:
        start, end = result.period_start.isoformat(), result.period_end.isoformat()
        current = self._in_force(session, result.building_id, start, end)
        if supersedes is None:
            if current is not None:
                raise CorrectionError(
                    f"kørsel {current.id} er godkendt og gælder for {result.building_id} i "
                    "denne periode; lav en korrektion, der erstatter den, og angiv årsagen / "
                    f"run {current.id} is approved and in force for {result.building_id} in "
                    "this period; make a correction that supersedes it, with a reason"
                )
            return
        old = self._row(session, supersedes)
        if not reason or not reason.strip():
            raise CorrectionError("en korrektion skal have en årsag / a correction needs a reason")
        if (old.building_id, old.period_start, old.period_end) != (result.building_id, start, end):
            raise CorrectionError(
                f"kørsel {supersedes} gælder {old.building_id} {old.period_start[:10]}.."
                f"{old.period_end[:10]}, ikke denne bygning og periode / run {supersedes} is for "
                "another building or period"
            )
        if current is None or current.id != supersedes:
            in_force = "ingen" if current is None else f"kørsel {current.id}"
            raise CorrectionError(
                f"kun den godkendte kørsel, der gælder, kan korrigeres; for perioden gælder "
                f"{in_force}, ikke kørsel {supersedes} / only the approved run in force can be "
                f"corrected; in force: {current.id if current else 'none'}, not {supersedes}"
            )

    def get(self, run_id: int) -> RunRecord:
        with Session(self._engine) as session:
            return _record(self._row(session, run_id))

    def of_building(self, building_id: str) -> list[RunRecord]:
        """The building's runs, newest first."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(_RunRow)
                .where(_RunRow.building_id == building_id)
                .order_by(_RunRow.id.desc())
            )
            return [_record(row) for row in rows]

    def replace(
        self, run_id: int, result: SettlementResult, csv: bytes | Callable[[RunRef], bytes]
    ) -> None:
        """Replace a draft's or checked run's result (it goes back to draft)."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session, run_id)
            if row.state == RunState.APPROVED.value:
                raise RunImmutable(f"kørsel {run_id} er godkendt / run {run_id} is approved")
            _fill(
                row,
                result,
                csv(RunRef(row.id, row.supersedes, row.reason or "")) if callable(csv) else csv,
            )
            row.state = RunState.DRAFT.value
            row.checked_by = None

    def check(self, run_id: int, *, by: str) -> None:
        self._advance(run_id, RunState.DRAFT, RunState.CHECKED, by)

    def approve(self, run_id: int, *, by: str, now: datetime | None = None) -> None:
        """Approve a checked run; the approver must be neither its drafter nor its checker
        (names compared without regard to case). Refused when it would put a second run in
        force for its building and period."""
        with Session(self._engine) as session:
            row = self._row(session, run_id)
            if by.casefold() in (row.created_by.casefold(), (row.checked_by or "").casefold()):
                raise PermissionError(
                    f"{by} lavede eller kontrollerede kørsel {run_id} og kan ikke også godkende "
                    "den / the drafter or checker cannot also approve"
                )
            if row.state != RunState.APPROVED.value:
                current = self._in_force(session, row.building_id, row.period_start, row.period_end)
                if current is not None and current.id != row.supersedes:
                    raise CorrectionError(
                        f"kørsel {current.id} gælder allerede for perioden; kørsel {run_id} "
                        f"erstatter den ikke – lav en korrektion af kørsel {current.id} / run "
                        f"{current.id} is already in force for the period; run {run_id} does "
                        f"not supersede it - make a correction of run {current.id}"
                    )
        self._advance(run_id, RunState.CHECKED, RunState.APPROVED, by, now)

    def pending(self, building_id: str | None = None) -> list[RunRecord]:
        """Per building and period with no approved run in force: its newest run (draft or
        checked), oldest period first - what still needs approving before its deadline."""
        with Session(self._engine) as session:
            query = select(_RunRow).order_by(_RunRow.id)
            if building_id is not None:
                query = query.where(_RunRow.building_id == building_id)
            rows = session.scalars(query).all()
            newest: dict[tuple[str, str, str], _RunRow] = {}
            approved: set[tuple[str, str, str]] = set()
            for r in rows:
                key = (r.building_id, r.period_start, r.period_end)
                newest[key] = r
                if r.state == RunState.APPROVED.value:
                    approved.add(key)
            return [
                _record(r)
                for key, r in sorted(newest.items(), key=lambda kv: (kv[0][1], kv[0][0]))
                if key not in approved
            ]

    def _advance(
        self, run_id: int, src: RunState, dst: RunState, by: str, now: datetime | None = None
    ) -> None:
        with Session(self._engine) as session, session.begin():
            row = self._row(session, run_id)
            if row.state != src.value:
                if row.state == RunState.APPROVED.value:
                    raise RunImmutable(f"kørsel {run_id} er godkendt / run {run_id} is approved")
                raise ValueError(
                    f"kørsel {run_id} er {row.state}, ikke {src} / run is {row.state}, not {src}"
                )
            row.state = dst.value
            if dst is RunState.CHECKED:
                row.checked_by = by
            else:
                row.approved_by = by
                row.approved_at = (now or datetime.now(UTC)).isoformat()

    def delete(self, run_id: int) -> None:
        with Session(self._engine) as session, session.begin():
            session.delete(self._row(session, run_id))

    def reproduces(self, run_id: int, result: SettlementResult, csv: bytes) -> bool:
        """True when a rerun has the same input hash, tariff hash and CSV bytes."""
        rec = self.get(run_id)
        return (
            rec.input_sha256 == result.input_sha256
            and rec.tariff_sha256 == result.tariff_sha256
            and rec.csv == csv
        )
