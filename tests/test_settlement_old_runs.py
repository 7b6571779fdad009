"""Issue 13: runs saved before the CSV had the run-id columns still give their XLSX and PDFs,
and a run that cannot be reproduced says which of its inputs, tariff or amounts differ.

Before, every such run answered 409 "the period's data changed (input hash differs)" — also
when the data and the input hash were the same and only the CSV's columns had grown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cloud.api.documents import RUN_COLUMNS, without_run_columns
from cloud.settlement.export import CSV_COLUMNS
from tests.api_kit import Api, fill_store, running_api
from tests.settle_files import pdf_text
from tests.test_api import RUNS, SETTLE, detail


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'accounts.db'}") as running:
        yield running


def _set_csv(api: Api, run_id: int, csv: bytes) -> None:
    """What an older version saved: written straight into the runs database."""
    engine = create_engine(f"sqlite:///{api.folder / 'runs.db'}")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE settlement_runs SET csv = :csv WHERE id = :id"), {"csv": csv, "id": run_id}
        )
    engine.dispose()


def _old_run(api: Api) -> tuple[int, bytes]:
    made = api.fin("POST", RUNS, json=SETTLE)
    assert made.status_code == 201, made.text
    run_id = made.json()["run_id"]
    current = api.fin("GET", f"{RUNS}/{run_id}/export.csv").content
    old = without_run_columns(current)
    header = old.decode("utf-8-sig").partition("\r\n")[0].split(";")
    assert header == [c for c in CSV_COLUMNS if c not in RUN_COLUMNS]  # the old layout
    _set_csv(api, run_id, old)
    return run_id, old


def test_a_run_saved_without_the_run_id_columns_gives_its_documents(api: Api) -> None:
    run_id, old = _old_run(api)
    assert api.fin("GET", f"{RUNS}/{run_id}/export.csv").content == old  # kept as it was
    xlsx = api.fin("GET", f"{RUNS}/{run_id}/export.xlsx")
    assert xlsx.status_code == 200, xlsx.text
    pdf = api.fin("GET", f"{RUNS}/{run_id}/statements/B1-01.pdf")
    assert pdf.status_code == 200, pdf.text
    assert "B1-01" in pdf_text(pdf.content)
    rows = api.fin("GET", f"{RUNS}/{run_id}").json()["flats"]
    assert [r["flat_id"] for r in rows] == ["B1-01", "B1-02", "B1-03"]
    assert api.fin("POST", f"{RUNS}/{run_id}/check").status_code == 200
    approved = api.call("POST", f"{RUNS}/{run_id}/approve", "fin2")
    assert approved.status_code == 200, approved.text


def test_other_amounts_from_the_same_inputs_are_named_as_such(api: Api) -> None:
    run_id, old = _old_run(api)
    text_ = old.decode("utf-8-sig")
    first_row = text_.split("\r\n")[1]
    changed = text_.replace(first_row, first_row.replace("B1-01;", "B1-01;1", 1))
    _set_csv(api, run_id, ("\ufeff" + changed).encode("utf-8"))
    answer = api.fin("GET", f"{RUNS}/{run_id}/export.xlsx")
    assert answer.status_code == 409
    reason = detail(answer)
    assert "andre beløb" in reason and "other amounts" in reason
    assert "input hash" not in reason  # the inputs are the same: not blamed


def test_changed_readings_are_named_as_changed_inputs(api: Api) -> None:
    made = api.fin("POST", RUNS, json=SETTLE)
    run_id = made.json()["run_id"]
    fill_store(api.store, "B1", bump_c=1.5)  # readings for the period change after the run
    answer = api.fin("GET", f"{RUNS}/{run_id}/statements/B1-01.pdf")
    assert answer.status_code == 409
    reason = detail(answer)
    assert "inddata-hash afviger" in reason and "input hash differs" in reason
