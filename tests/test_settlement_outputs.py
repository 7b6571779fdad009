"""CSV, XLSX and PDF outputs; runs and audit (draft -> checked -> approved -> immutable)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cloud.settlement.canonical import input_sha256
from cloud.settlement.engine import settle
from cloud.settlement.export import CSV_COLUMNS, to_csv_bytes, to_xlsx_bytes
from cloud.settlement.model import SettlementInputs, SettlementResult
from cloud.settlement.pdf import statement_pdf
from cloud.settlement.runs import RunImmutable, RunState, RunStore, _RunRow
from cloud.settlement.series import ClimateSeries
from cloud.settlement.synthetic import month_period, random_month
from cloud.settlement.tariff import default_tariff

pypdf = pytest.importorskip("pypdf")  # test dependency: PyPI "pypdf"


def make_inputs(**changes: object) -> SettlementInputs:
    flats, climate, weather = random_month(6, seed=3)
    flats = (replace(flats[0], previous_amount_ore=2_500_000), *flats[1:])
    start, end = month_period(2026, 1)
    inputs = SettlementInputs(
        building_id="B1",
        building_name="Tranehaven blok 1",
        period_start=start,
        period_end=end,
        cost_ore=12_345_678,
        flats=flats,
        climate=climate,
        weather=weather,
        tariff=default_tariff(),
        statement_date=date(2026, 3, 15),
        bill_received=date(2026, 2, 20),
    )
    return replace(inputs, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def result() -> SettlementResult:
    return settle(make_inputs())


def test_csv_is_bom_semicolon_decimal_comma_and_adds_up(result: SettlementResult) -> None:
    data = to_csv_bytes(result)
    assert data.startswith(b"\xef\xbb\xbfflat_id;area_m2;")
    assert b"\r\n" in data
    frame = pd.read_csv(io.BytesIO(data), sep=";", decimal=",", encoding="utf-8-sig")
    assert tuple(frame.columns) == CSV_COLUMNS
    assert list(frame["flat_id"]) == [s.flat_id for s in result.statements]
    assert round(frame["amount_dkk"].sum() * 100) == result.cost_ore
    assert (frame["fixed_dkk"] + frame["variable_dkk"] - frame["amount_dkk"]).abs().max() < 1e-6
    assert frame["share_pct"].sum() == pytest.approx(100.0, abs=1e-3)
    first = result.statements[0]
    text = data.decode("utf-8-sig").splitlines()[1]
    assert f";{first.amount_ore // 100},{first.amount_ore % 100:02d};" in text


def test_xlsx_has_one_sheet_per_building_and_a_totals_row(result: SettlementResult) -> None:
    from openpyxl import load_workbook

    other = replace(result, building_id="B2")
    wb = load_workbook(io.BytesIO(to_xlsx_bytes([result, other])))
    assert wb.sheetnames == ["B1", "B2"]
    ws = wb["B1"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[1][0] == "Lejlighed"
    body = rows[2:-1]
    assert [r[0] for r in body] == [s.flat_id for s in result.statements]
    assert round(sum(r[6] for r in body) * 100) == result.cost_ore
    assert rows[-1][0] == "I alt" and rows[-1][6] == f"=SUM(G3:G{2 + len(body)})"


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


REQUIRED_FIELDS = [
    "Regnskabsperiode 2026-01-01 til 2026-01-31",
    "Ejendommens samlede varmeudgift 123456,78 kr.",
    "Endelig varmeregning modtaget 2026-02-20",
    "Lejlighed F00000",
    "BBR-boligareal",
    "Fordelingsnøgle fast del 45 % efter areal × beliggenhedsfaktor; variabel del 55 %",
    "Beliggenhedsfaktor",
    "Målte værdier bag pointene Middeltemperatur",
    "Datadækning",
    "Din andel",
    "Dit beløb",
    "Betalt aconto",
    "Saldo",
    "forfalder 2026-07-01",
    "Forrige periode: 25000,00 kr.",
    "skriftlig indsigelse",
    "6 uger",
    "Beboerklagenævnet",
    "Huslejenævnet",
]


def test_pdf_statement_carries_every_required_field_in_danish(result: SettlementResult) -> None:
    s = result.statements[0]
    text = pdf_text(statement_pdf(result, s))
    missing = [f for f in REQUIRED_FIELDS if f not in text]
    assert not missing, text
    assert f"{s.amount_ore // 100},{s.amount_ore % 100:02d} kr." in text


def test_rerun_with_same_inputs_gives_the_same_bytes(result: SettlementResult) -> None:
    again = settle(make_inputs())
    assert again.input_sha256 == result.input_sha256
    assert to_csv_bytes(again) == to_csv_bytes(result)
    assert to_xlsx_bytes([again]) == to_xlsx_bytes([result])
    assert statement_pdf(again, again.statements[2]) == statement_pdf(result, result.statements[2])


def test_input_hash_changes_with_any_input_and_ignores_row_order(result: SettlementResult) -> None:
    base = make_inputs()
    assert input_sha256(replace(base, cost_ore=base.cost_ore + 1)) != result.input_sha256
    c = base.climate
    t = c.temperature_c.copy()
    t[2, 100] += 0.01
    changed = ClimateSeries(c.flat_ids, c.start, c.step_s, t, c.humidity_pct, c.co2_ppm)
    assert input_sha256(replace(base, climate=changed)) != result.input_sha256
    order = np.arange(len(c.flat_ids))[::-1]
    shuffled = ClimateSeries(
        tuple(c.flat_ids[i] for i in order),
        c.start,
        c.step_s,
        c.temperature_c[order],
        c.humidity_pct[order],
        c.co2_ppm[order],
    )
    flipped = replace(base, climate=shuffled, flats=tuple(reversed(base.flats)))
    assert input_sha256(flipped) == result.input_sha256
    assert to_csv_bytes(settle(flipped)) == to_csv_bytes(result)


@pytest.fixture
def runs(tmp_path: Path) -> RunStore:
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    yield store  # type: ignore[misc]
    store.close()


NOW = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


def test_run_records_its_inputs(runs: RunStore, result: SettlementResult) -> None:
    run_id = runs.create(result, to_csv_bytes(result), created_by="finance-a", now=NOW)
    rec = runs.get(run_id)
    assert rec.state is RunState.DRAFT
    assert (rec.building_id, rec.cost_ore, rec.total_ore) == (
        "B1",
        result.cost_ore,
        result.cost_ore,
    )
    assert rec.period_start == "2026-01-01T00:00:00+00:00"
    assert rec.tariff_version == "2026.1" and rec.tariff_sha256 == result.tariff_sha256
    assert rec.input_sha256 == result.input_sha256
    assert rec.coverage_pct == {s.flat_id: s.coverage_pct for s in result.statements}
    assert rec.created_at == NOW.isoformat()


def test_runs_go_draft_checked_approved_and_are_then_immutable(
    runs: RunStore, result: SettlementResult
) -> None:
    csv = to_csv_bytes(result)
    run_id = runs.create(result, csv, created_by="finance-a", now=NOW)
    runs.replace(run_id, result, csv)  # drafts may change
    runs.check(run_id, by="finance-b")
    with pytest.raises(PermissionError):
        runs.approve(run_id, by="finance-b")  # four eyes
    with pytest.raises(PermissionError):
        runs.approve(run_id, by="Finance-A")  # nor the drafter, whatever the case
    runs.approve(run_id, by="finance-c", now=NOW)
    assert runs.get(run_id).state is RunState.APPROVED
    with pytest.raises(RunImmutable):
        runs.replace(run_id, result, csv)
    with pytest.raises(RunImmutable):
        runs.check(run_id, by="finance-b")
    with pytest.raises(RunImmutable):
        runs.delete(run_id)
    with Session(runs._engine) as session:  # going around the store is refused too
        row = session.get(_RunRow, run_id)
        assert row is not None
        row.cost_ore = 1
        with pytest.raises(RunImmutable):
            session.commit()
    assert runs.get(run_id).cost_ore == result.cost_ore
    assert runs.reproduces(run_id, settle(make_inputs()), csv)
    other = settle(make_inputs(cost_ore=result.cost_ore + 100))
    assert not runs.reproduces(run_id, other, to_csv_bytes(other))


def test_approving_a_draft_that_was_not_checked_is_refused(
    runs: RunStore, result: SettlementResult
) -> None:
    run_id = runs.create(result, b"", created_by="a", now=NOW)
    with pytest.raises(ValueError, match="draft"):
        runs.approve(run_id, by="b")
    runs.delete(run_id)  # a draft may be thrown away


def test_sql_that_goes_around_the_orm_cannot_change_an_approved_run_either(
    runs: RunStore, result: SettlementResult
) -> None:
    run_id = runs.create(result, b"x", created_by="a", now=NOW)
    runs.check(run_id, by="b")
    runs.approve(run_id, by="c", now=NOW)
    with pytest.raises(DBAPIError, match="immutable"), Session(runs._engine) as session:
        session.execute(update(_RunRow).where(_RunRow.id == run_id).values(state="draft"))
        session.commit()
    with pytest.raises(DBAPIError, match="immutable"), Session(runs._engine) as session:
        session.execute(delete(_RunRow).where(_RunRow.id == run_id))
        session.commit()
    assert runs.get(run_id).state is RunState.APPROVED
