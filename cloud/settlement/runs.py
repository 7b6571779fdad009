"""Settlement runs: recorded inputs, draft -> checked -> approved, then immutable.

A run records what it takes to reproduce it: building, period, cost, tariff version, the tariff's
values and hash, the SHA-256 of the canonicalised input data, each flat's data coverage, and the
CSV it produced. Stored with SQLAlchemy (SQLite by default; any SQLAlchemy URL, e.g. PostgreSQL).
An approved run can be neither changed nor deleted: the store refuses, and an ORM hook refuses
again for code that goes around the store.
"""

from __future__ import annotations

import json
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

from cloud.settlement.model import SettlementResult


class RunState(StrEnum):
    DRAFT = "draft"
    CHECKED = "checked"
    APPROVED = "approved"


class RunImmutable(RuntimeError):
    """An approved run cannot change; make a new run (e.g. a correction) instead."""


class RunNotFound(KeyError):
    pass


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
        csv: bytes,
        *,
        created_by: str,
        now: datetime | None = None,
    ) -> int:
        """Record a new draft run; returns its id."""
        row = _RunRow(state=RunState.DRAFT.value, created_by=created_by)
        row.created_at = (now or datetime.now(UTC)).isoformat()
        _fill(row, result, csv)
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return row.id

    def get(self, run_id: int) -> RunRecord:
        with Session(self._engine) as session:
            return _record(self._row(session, run_id))

    def list(self, building_id: str) -> list[RunRecord]:
        """The building's runs, newest first."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(_RunRow)
                .where(_RunRow.building_id == building_id)
                .order_by(_RunRow.id.desc())
            )
            return [_record(row) for row in rows]

    def replace(self, run_id: int, result: SettlementResult, csv: bytes) -> None:
        """Replace a draft's or checked run's result (it goes back to draft)."""
        with Session(self._engine) as session, session.begin():
            row = self._row(session, run_id)
            if row.state == RunState.APPROVED.value:
                raise RunImmutable(f"kørsel {run_id} er godkendt / run {run_id} is approved")
            _fill(row, result, csv)
            row.state = RunState.DRAFT.value
            row.checked_by = None

    def check(self, run_id: int, *, by: str) -> None:
        self._advance(run_id, RunState.DRAFT, RunState.CHECKED, by)

    def approve(self, run_id: int, *, by: str, now: datetime | None = None) -> None:
        """Approve a checked run; the approver must be neither its drafter nor its checker
        (names compared without regard to case)."""
        with Session(self._engine) as session:
            row = self._row(session, run_id)
            if by.casefold() in (row.created_by.casefold(), (row.checked_by or "").casefold()):
                raise PermissionError(
                    f"{by} lavede eller kontrollerede kørsel {run_id} og kan ikke også godkende "
                    "den / the drafter or checker cannot also approve"
                )
        self._advance(run_id, RunState.CHECKED, RunState.APPROVED, by, now)

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
