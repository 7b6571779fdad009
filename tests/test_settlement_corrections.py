"""Issue 13: corrections and the statement deadline.

One approved run in force per building and period; a correction names the run it supersedes and
why; statements say "korrektion"; exports carry both run ids; finance is warned about the legal
deadline (4 months after the accounting year).
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cloud.settlement.deadline import DeadlineState, deadline_status
from cloud.settlement.engine import settle
from cloud.settlement.export import to_csv_bytes
from cloud.settlement.model import SettlementResult
from cloud.settlement.periods import parse_period
from cloud.settlement.runs import CorrectionError, RunState, RunStore
from tests.settle_files import pdf_text, read_out, write_files
from tests.settle_files import settle as settle_cli
from tests.test_settlement_outputs import make_inputs


@pytest.fixture(scope="module")
def result() -> SettlementResult:
    return settle(make_inputs())


@pytest.fixture
def runs(tmp_path: Path) -> RunStore:
    return RunStore(f"sqlite:///{tmp_path / 'runs.db'}")


def csv_for(result: SettlementResult):  # type: ignore[no-untyped-def]
    return lambda ref: to_csv_bytes(replace(result, run=ref))


def approved(runs: RunStore, result: SettlementResult, **kw: object) -> int:
    run_id = runs.create(result, csv_for(result), created_by="A", **kw)  # type: ignore[arg-type]
    runs.check(run_id, by="B")
    runs.approve(run_id, by="C")
    return run_id


def test_one_run_in_force_and_corrections_supersede_it(
    runs: RunStore, result: SettlementResult
) -> None:
    first = approved(runs, result)
    in_force = runs.in_force(result.building_id, result.period_start, result.period_end)
    assert in_force is not None and in_force.id == first
    with pytest.raises(CorrectionError, match="korrektion"):
        runs.create(result, b"", created_by="A")
    with pytest.raises(CorrectionError, match="årsag"):
        runs.create(result, b"", created_by="A", supersedes=first, reason=" ")
    other = replace(result, building_id="B2")
    with pytest.raises(CorrectionError, match="another building or period"):
        runs.create(other, b"", created_by="A", supersedes=first, reason="x")
    second = approved(runs, result, supersedes=first, reason="forkert areal for 0101")
    record = runs.get(second)
    assert (record.supersedes, record.reason) == (first, "forkert areal for 0101")
    in_force = runs.in_force(result.building_id, result.period_start, result.period_end)
    assert in_force is not None and in_force.id == second
    assert runs.get(first).state is RunState.APPROVED  # kept, superseded, never changed
    with pytest.raises(CorrectionError, match="in force"):  # correct the run in force only
        runs.create(result, b"", created_by="A", supersedes=first, reason="igen")
    rows = read_csv(record.csv)
    assert {(r["run_id"], r["supersedes_run_id"]) for r in rows} == {(str(second), str(first))}


def test_a_second_draft_cannot_be_approved_beside_the_run_in_force(
    runs: RunStore, result: SettlementResult
) -> None:
    one = runs.create(result, b"", created_by="A")
    two = runs.create(result, b"", created_by="A")  # both drafted before any approval
    for run_id in (one, two):
        runs.check(run_id, by="B")
    runs.approve(one, by="C")
    with pytest.raises(CorrectionError, match=f"korrektion af kørsel {one}"):
        runs.approve(two, by="C")
    assert runs.get(two).state is RunState.CHECKED
    assert runs.pending() == []  # the period has its approved run


def test_pending_lists_periods_without_an_approved_run(
    runs: RunStore, result: SettlementResult
) -> None:
    runs.create(result, b"", created_by="A")
    newest = runs.create(result, b"", created_by="A")
    assert [r.id for r in runs.pending()] == [newest]
    assert runs.pending("other") == []


def test_an_old_runs_table_gets_the_correction_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # the table as the first release created it
        conn.execute(
            text(
                "CREATE TABLE settlement_runs (id INTEGER PRIMARY KEY, building_id VARCHAR(64), "
                "period_start VARCHAR(32), period_end VARCHAR(32), cost_ore INTEGER, "
                "total_ore INTEGER, tariff_version VARCHAR(64), tariff_sha256 VARCHAR(64), "
                "tariff_json TEXT, input_sha256 VARCHAR(64), coverage_json TEXT, "
                "statement_date VARCHAR(10), state VARCHAR(16), created_at VARCHAR(40), "
                "created_by VARCHAR(128), checked_by VARCHAR(128), approved_by VARCHAR(128), "
                "approved_at VARCHAR(40), csv BLOB)"
            )
        )
    engine.dispose()
    runs = RunStore(url)
    run_id = runs.create(settle(make_inputs()), b"x", created_by="A")
    assert runs.get(run_id).supersedes is None
    runs.close()


def read_csv(data: bytes) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


@pytest.mark.parametrize(
    ("today", "approved_on", "state", "says"),
    [
        (date(2026, 5, 1), None, DeadlineState.OPEN, None),
        (date(2026, 7, 15), None, DeadlineState.DUE_SOON, "om 16 dage"),
        (date(2026, 8, 3), None, DeadlineState.OVERDUE, "3 dage siden"),
        (date(2026, 9, 1), date(2026, 7, 31), DeadlineState.MET, None),
        (date(2026, 9, 1), date(2026, 8, 1), DeadlineState.LATE, "efter fristen"),
    ],
)
def test_deadline_states_and_warnings(
    today: date, approved_on: date | None, state: DeadlineState, says: str | None
) -> None:
    start, end = parse_period("2026-03")  # deadline 31 July 2026
    status = deadline_status(start, end, today, approved_on)
    assert status.deadline == date(2026, 7, 31)
    assert status.state is state
    if says is None:
        assert status.warning is None
    else:
        assert status.warning is not None and says in status.warning and " / " in status.warning


def test_corrections_through_the_cli(tmp_path: Path) -> None:
    files = write_files(tmp_path, 2026, 1, {"0101": 21.0, "0102": 23.0})
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    done = settle_cli(files, tmp_path / "1.csv", "2026-01", "--runs-db", db)
    assert done.returncode == 0, done.stderr
    assert {r["run_id"] for r in read_out(tmp_path / "1.csv")} == {"1"}
    assert "frist/deadline" in done.stdout and "2026-05-31" in done.stdout
    assert "advarsel / warning" in done.stderr  # 2026-05-31 has passed (the clock is real)
    runs = RunStore(db)
    runs.check(1, by="KL")
    runs.approve(1, by="PB")
    runs.close()

    again = settle_cli(files, tmp_path / "2.csv", "2026-01", "--runs-db", db)
    assert again.returncode == 2 and "korrektion" in again.stderr
    assert not (tmp_path / "2.csv").exists()
    no_reason = settle_cli(files, tmp_path / "2.csv", "2026-01", "--runs-db", db, "--corrects", "1")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr

    out, pdfs, xlsx = tmp_path / "3.csv", tmp_path / "pdf", tmp_path / "3.xlsx"
    fixed = settle_cli(
        files, out, "2026-01", "--runs-db", db, "--corrects", "1",
        "--reason", "forkert areal for 0101", "--pdf-dir", str(pdfs), "--xlsx", str(xlsx),
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert {(r["run_id"], r["supersedes_run_id"]) for r in read_out(out)} == {("2", "1")}
    for path in pdfs.iterdir():
        words = " ".join(pdf_text(path).split())
        assert "korrektion" in words and "kørsel 1" in words and "forkert areal for 0101" in words
    from openpyxl import load_workbook

    title = load_workbook(xlsx).active["A1"].value  # type: ignore[index]
    assert "korrektion" in title and "kørsel 2 erstatter kørsel 1" in title
    runs = RunStore(db)
    assert runs.get(2).supersedes == 1 and runs.get(2).csv == out.read_bytes()
    runs.close()


def test_in_force_is_found_by_period(runs: RunStore, result: SettlementResult) -> None:
    assert runs.in_force("B1", datetime(2026, 1, 1, tzinfo=UTC), result.period_end) is None
