"""Alerts stored with SQLAlchemy: a SQLite file by default, any SQLAlchemy URL (PostgreSQL:
``postgresql+psycopg://user@host/db``) where more than one process needs them.

Rows are keyed by the alert id (building/flat/kind/raised_at), so saving an alert again after
escalation or clearing updates its row: one row per alert occurrence, its current state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Float, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from cloud.analytics.alerts import Alert, AlertKind, AlertState, Severity


class _Base(DeclarativeBase):
    pass


class _AlertRow(_Base):
    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    building: Mapped[str] = mapped_column(String(64), index=True)
    flat: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    value: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def _utc(t: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _to_alert(row: _AlertRow) -> Alert:
    return Alert(
        building=row.building,
        flat=row.flat,
        kind=AlertKind(row.kind),
        severity=Severity(row.severity),
        state=AlertState(row.state),
        value=row.value,
        raised_at=_utc(row.raised_at),
        updated_at=_utc(row.updated_at),
        cleared_at=_utc(row.cleared_at) if row.cleared_at else None,
    )


class AlertStore:
    """Save and query alerts. ``AlertStore("sqlite:///alerts.sqlite")`` or a Path."""

    def __init__(self, url: str | Path) -> None:
        self.url = f"sqlite:///{url}" if isinstance(url, Path) else url
        self._engine = create_engine(self.url)
        _Base.metadata.create_all(self._engine)

    def save(self, alerts: Iterable[Alert]) -> None:
        with Session(self._engine) as session, session.begin():
            for a in alerts:
                session.merge(
                    _AlertRow(
                        id=a.id,
                        building=a.building,
                        flat=a.flat,
                        kind=a.kind.value,
                        severity=a.severity.value,
                        state=a.state.value,
                        value=a.value,
                        raised_at=a.raised_at.astimezone(UTC),
                        updated_at=a.updated_at.astimezone(UTC),
                        cleared_at=a.cleared_at.astimezone(UTC) if a.cleared_at else None,
                    )
                )

    def query(
        self,
        *,
        building: str | None = None,
        flat: str | None = None,
        states: Sequence[AlertState] | None = None,
        kinds: Sequence[AlertKind] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Alert]:
        """Alerts matching every given filter (times on ``updated_at``: since <= t < until),
        newest first."""
        stmt = select(_AlertRow)
        if building is not None:
            stmt = stmt.where(_AlertRow.building == building)
        if flat is not None:
            stmt = stmt.where(_AlertRow.flat == flat)
        if states is not None:
            stmt = stmt.where(_AlertRow.state.in_([s.value for s in states]))
        if kinds is not None:
            stmt = stmt.where(_AlertRow.kind.in_([k.value for k in kinds]))
        if since is not None:
            stmt = stmt.where(_AlertRow.updated_at >= since.astimezone(UTC))
        if until is not None:
            stmt = stmt.where(_AlertRow.updated_at < until.astimezone(UTC))
        stmt = stmt.order_by(_AlertRow.updated_at.desc(), _AlertRow.id)
        with Session(self._engine) as session:
            return [_to_alert(row) for row in session.scalars(stmt)]

    def open_alerts(self, building: str | None = None) -> list[Alert]:
        return self.query(building=building, states=(AlertState.NEW, AlertState.ESCALATED))

    def close(self) -> None:
        """Release connections; safe to call twice."""
        self._engine.dispose()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
