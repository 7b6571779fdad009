"""Technicians' acknowledgements of alerts, with a comment: who, when, what they wrote.

Kept in the alert store's database (table ``alert_acks``), append-only: an acknowledgement is
never edited or deleted, a later one is added beside it, and every technician of the building
sees them all. The person's name comes from their login, never from a form. (The audit trail
records the action as well; this table is what the pages show.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import DateTime, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MAX_COMMENT_CHARS: Final = 1000


class AckError(ValueError):
    """The acknowledgement cannot be stored as given; the message says what to change."""


class _Base(DeclarativeBase):
    pass


class _AckRow(_Base):
    __tablename__ = "alert_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(200), index=True)
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str] = mapped_column(Text)


@event.listens_for(_AckRow, "before_update")
@event.listens_for(_AckRow, "before_delete")
def _append_only(*_args: object) -> None:
    raise AckError("kvitteringer ændres ikke / acknowledgements are never changed")


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    alert_id: str
    by: str
    at: datetime
    comment: str


def clean_comment(comment: str) -> str:
    """The comment as stored: trimmed, control characters (except line breaks) removed;
    `AckError` when empty or longer than `MAX_COMMENT_CHARS`."""
    text = "".join(ch for ch in comment.strip() if ch in "\n\t" or ord(ch) >= 32)
    if not text:
        raise AckError(
            "Skriv en kommentar: hvad er gjort eller aftalt / write a comment: what was done or "
            "agreed"
        )
    if len(text) > MAX_COMMENT_CHARS:
        raise AckError(
            f"Kommentaren er {len(text)} tegn; højst {MAX_COMMENT_CHARS} / the comment is "
            f"{len(text)} characters; at most {MAX_COMMENT_CHARS}"
        )
    return text


class AlertAcks:
    """``AlertAcks(url)`` on the alert store's SQLAlchemy URL (or a SQLite Path)."""

    def __init__(self, url: str | Path) -> None:
        self.url = f"sqlite:///{url}" if isinstance(url, Path) else url
        self._engine = create_engine(self.url)
        _Base.metadata.create_all(self._engine)

    def acknowledge(
        self, alert_id: str, *, by: str, comment: str, at: datetime | None = None
    ) -> Acknowledgement:
        text = clean_comment(comment)
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        with Session(self._engine) as session, session.begin():
            session.add(_AckRow(alert_id=alert_id, by=by, at=moment, comment=text))
        return Acknowledgement(alert_id, by, moment, text)

    def for_alerts(self, alert_ids: Iterable[str]) -> dict[str, list[Acknowledgement]]:
        """Acknowledgements per alert id, oldest first."""
        ids = list(set(alert_ids))
        found: dict[str, list[Acknowledgement]] = {i: [] for i in ids}
        if not ids:
            return found
        with Session(self._engine) as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = session.scalars(
                    select(_AckRow).where(_AckRow.alert_id.in_(chunk)).order_by(_AckRow.id)
                )
                for row in rows:
                    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
                    found[row.alert_id].append(
                        Acknowledgement(row.alert_id, row.by, at.astimezone(UTC), row.comment)
                    )
        return found

    def close(self) -> None:
        """Release connections; safe to call twice."""
        self._engine.dispose()
