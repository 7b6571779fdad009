"""What the API keeps beside each settlement run, and how it regenerates a run's documents.

`cloud.settlement.runs.RunStore` records a run's inputs and its CSV. To make the XLSX and the
per-flat PDFs later, the API also needs what the run store does not keep: the date the heating
bill was received, the tariff's values and the engine's notes. These go in table
``api_run_meta`` of the same database. A document is made on first request by settling again from
the store with the run's recorded inputs, and served only if that rerun reproduces the run (same
input hash, tariff hash and CSV bytes, `RunStore.reproduces`); it is then kept in
``api_run_documents``, so it stays the same even if readings for the period arrive later. Approving
a run makes and keeps all its documents first, so an approved run's documents are frozen.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from sqlalchemy import Integer, LargeBinary, String, Text, create_engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from cloud.registry import Registry
from cloud.settlement.model import SettlementResult
from cloud.settlement.money import ore_to_dkk
from cloud.settlement.runs import RunRecord
from cloud.settlement.tariff import Tariff
from cloud.store.base import TimeSeriesStore


class NotReproducible(RuntimeError):
    """Settling again from the store does not give the run's result (the data changed)."""


class _Base(DeclarativeBase):
    pass


class _MetaRow(_Base):
    __tablename__ = "api_run_meta"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_received: Mapped[str | None] = mapped_column(String(10), nullable=True)
    tariff_json: Mapped[str] = mapped_column(Text)
    notes_json: Mapped[str] = mapped_column(Text)


class _DocumentRow(_Base):
    __tablename__ = "api_run_documents"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True, slots=True)
class RunMeta:
    bill_received: date | None
    tariff_json: str
    notes: tuple[str, ...]


class RunDocuments:
    """Run metadata and kept documents in a SQL database (the runs database)."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        _Base.metadata.create_all(self._engine)

    def close(self) -> None:
        """Release connections; safe to call twice."""
        self._engine.dispose()

    def save_meta(self, run_id: int, result: SettlementResult) -> None:
        row = _MetaRow(
            run_id=run_id,
            bill_received=result.bill_received.isoformat() if result.bill_received else None,
            tariff_json=result.tariff.model_dump_json(),
            notes_json=json.dumps(list(result.notes)),
        )
        with Session(self._engine) as session, session.begin():
            session.merge(row)

    def meta(self, run_id: int) -> RunMeta | None:
        with Session(self._engine) as session:
            row = session.get(_MetaRow, run_id)
            if row is None:
                return None
            received = date.fromisoformat(row.bill_received) if row.bill_received else None
            return RunMeta(received, row.tariff_json, tuple(json.loads(row.notes_json)))

    def get(self, run_id: int, name: str) -> bytes | None:
        with Session(self._engine) as session:
            row = session.get(_DocumentRow, (run_id, name))
            return None if row is None else row.content

    def keep(self, run_id: int, name: str, content: bytes) -> bytes:
        """Keep a document; the first one kept under a name wins and is returned."""
        row = _DocumentRow(
            run_id=run_id, name=name, content=content, created_at=datetime.now(UTC).isoformat()
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except IntegrityError:
            kept = self.get(run_id, name)
            if kept is not None:
                return kept
            raise
        return content

    def runs_with(self, name: str) -> list[int]:
        """Ids of the runs that keep a document of this name (e.g. a flat's statement)."""
        with Session(self._engine) as session:
            return list(
                session.scalars(
                    select(_DocumentRow.run_id)
                    .where(_DocumentRow.name == name)
                    .order_by(_DocumentRow.run_id)
                )
            )

    def forget(self, run_id: int) -> None:
        """Drop what is kept for a deleted run."""
        with Session(self._engine) as session, session.begin():
            session.execute(delete(_DocumentRow).where(_DocumentRow.run_id == run_id))
            session.execute(delete(_MetaRow).where(_MetaRow.run_id == run_id))


def rerun(
    store: TimeSeriesStore,
    registry: Registry,
    record: RunRecord,
    meta: RunMeta | None,
    default_tariff: Tariff,
) -> SettlementResult:
    """Settle the run's building and period again from the store with the run's inputs.

    Runs made outside the API (``indeklima settle --runs-db``) have no meta row: they are rerun
    with the API's tariff and no bill date, and the reproduction check decides."""
    from cloud.settlement.store_io import settle_from_store

    tariff = Tariff.model_validate_json(meta.tariff_json) if meta else default_tariff
    return settle_from_store(
        store,
        registry,
        record.building_id,
        datetime.fromisoformat(record.period_start),
        datetime.fromisoformat(record.period_end),
        ore_to_dkk(record.cost_ore),
        tariff,
        statement_date=date.fromisoformat(record.statement_date),
        bill_received=meta.bill_received if meta else None,
    )


RUN_COLUMNS: Final = ("run_id", "supersedes_run_id")
"""The CSV's last two columns since runs carry their ids; runs saved before have neither."""


def without_run_columns(csv_bytes: bytes) -> bytes:
    """A run's CSV as it was written before the run-id columns existed: each line without its
    last two cells (numbers or empty, never quoted, so splitting at the last two ``;`` is
    exact)."""
    text = csv_bytes.decode("utf-8-sig")
    lines = [line.rsplit(";", len(RUN_COLUMNS))[0] if line else line for line in text.split("\r\n")]
    return ("\ufeff" + "\r\n".join(lines)).encode("utf-8")


def _has_run_columns(csv_bytes: bytes) -> bool:
    header = csv_bytes.decode("utf-8-sig").partition("\r\n")[0].split(";")
    return header[-len(RUN_COLUMNS) :] == list(RUN_COLUMNS)


def check_reproduces(record: RunRecord, result: SettlementResult, csv_bytes: bytes) -> None:
    """``csv_bytes`` is the rerun's CSV for this run (``to_csv_bytes`` with ``record.ref``).

    Raises `NotReproducible` naming which of the three differs: the inputs (readings, areas,
    cost), the tariff, or the amounts from the same inputs and tariff. A run saved before the
    CSV had the run-id columns is compared without them: the same amounts reproduce it."""
    if record.input_sha256 != result.input_sha256:
        raise NotReproducible(
            f"Kørsel {record.id} kan ikke genskabes: data for perioden er ændret siden kørslen "
            "(inddata-hash afviger: målinger, arealer eller udgift). Kørslens CSV gælder "
            "stadig; lav en ny kørsel for at få XLSX og PDF / run "
            f"{record.id} cannot be reproduced: the period's data changed since the run (input "
            "hash differs: readings, areas or cost). Its CSV still stands; make a new run to "
            "get XLSX and PDF"
        )
    if record.tariff_sha256 != result.tariff_sha256:
        raise NotReproducible(
            f"Kørsel {record.id} kan ikke genskabes: den blev lavet med tariffen "
            f"{record.tariff_version!r} (sha256 {record.tariff_sha256[:12]}…), og den tarif "
            f"er ikke gemt ved kørslen; API'ets tarif er {result.tariff_sha256[:12]}…. "
            "Kørslens CSV gælder stadig; lav en ny kørsel i API'et for at få XLSX og PDF / run "
            f"{record.id} cannot be reproduced: it was made with tariff "
            f"{record.tariff_version!r} (sha256 {record.tariff_sha256[:12]}…), which was not "
            f"saved with it; the API's tariff is {result.tariff_sha256[:12]}…. Its CSV still "
            "stands; make a new run in the API to get XLSX and PDF"
        )
    if record.csv == csv_bytes:
        return
    if not _has_run_columns(record.csv) and record.csv == without_run_columns(csv_bytes):
        return  # saved before the run-id columns: same amounts, so the same run
    raise NotReproducible(
        f"Kørsel {record.id} kan ikke genskabes: samme inddata og tarif giver nu andre beløb "
        "end kørslens CSV (beregningen er ændret i en nyere version). Kørslens CSV gælder "
        "stadig; lav en ny kørsel for at få XLSX og PDF / run "
        f"{record.id} cannot be reproduced: the same inputs and tariff now give other amounts "
        "than the run's CSV (the calculation changed in a newer version). Its CSV still "
        "stands; make a new run to get XLSX and PDF"
    )


def csv_rows(csv_bytes: bytes) -> list[dict[str, str]]:
    """The rows of a run's CSV (UTF-8 with BOM, ``;``-separated) as column → text."""
    text = csv_bytes.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def document_names(flat_ids: Sequence[str]) -> list[str]:
    return ["export.xlsx", *(statement_name(f) for f in flat_ids)]


def statement_name(flat_id: str) -> str:
    return f"statements/{flat_id}.pdf"
