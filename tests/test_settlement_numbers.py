"""Issue 13: numbers as Danes write them — one parser for the CLI, the CSV columns and the API.

``250.000`` is two hundred and fifty thousand to a Dane and 250 to a program: it is refused with
both readings named, never guessed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cloud.settlement.money import MoneyError, to_ore
from cloud.settlement.numbers import NumberError, parse_amount, parse_number
from tests.settle_files import read_out, settle, write_files

ACCEPTED = [
    pytest.param("250000", Decimal("250000"), id="plain"),
    pytest.param("250000.00", Decimal("250000.00"), id="decimal-point"),
    pytest.param("250.000,00", Decimal("250000.00"), id="dot-thousands-decimal-comma"),
    pytest.param("250 000,00", Decimal("250000.00"), id="space-thousands"),
    pytest.param("250\u00a0000,00", Decimal("250000.00"), id="no-break-space-thousands"),
    pytest.param("250000,5", Decimal("250000.5"), id="decimal-comma"),
    pytest.param("1.000.000", Decimal("1000000"), id="several-dot-groups"),
    pytest.param("-1.234,50", Decimal("-1234.50"), id="negative"),
]
AMBIGUOUS = [
    pytest.param("250.000", "250000", "250", id="250.000"),
    pytest.param("1.000", "1000", "1", id="1.000"),
]


@pytest.mark.parametrize(("text", "value"), ACCEPTED)
def test_accepted_forms(text: str, value: Decimal) -> None:
    assert parse_number(text) == value
    assert parse_amount(text) == value


@pytest.mark.parametrize(("text", "thousands", "point"), AMBIGUOUS)
def test_ambiguous_numbers_are_refused_naming_both_readings(
    text: str, thousands: str, point: str
) -> None:
    with pytest.raises(NumberError) as caught:
        parse_number(text)
    message = str(caught.value)
    assert "tvetydigt" in message and "ambiguous" in message
    assert thousands in message and f"or {point} (decimal point)" in message


@pytest.mark.parametrize(
    "text", ["250,000.00", "1,2,3", "12a", "25.00.00", "1.0000,5", "", "kr 100"]
)
def test_malformed_numbers_are_refused(text: str) -> None:
    with pytest.raises(NumberError):
        parse_number(text)


@pytest.mark.parametrize(("text", "ore"), [("1,00", 100), ("0,5", 50), ("1.234,56", 123456)])
def test_money_in_ore(text: str, ore: int) -> None:
    assert to_ore(text) == ore


@pytest.mark.parametrize("text", ["1,000", "10,001", "250.000"])
def test_money_never_guesses(text: str) -> None:
    with pytest.raises(MoneyError):
        to_ore(text)


# -- through the real command ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "total_ore"),
    [
        ("250000", 25_000_000),
        ("250000.00", 25_000_000),
        ("250.000,00", 25_000_000),
        ("250 000,00", 25_000_000),
        ("250000,5", 25_000_050),
    ],
)
def test_total_cost_formats_through_the_cli(tmp_path: Path, cost: str, total_ore: int) -> None:
    files = write_files(tmp_path, 2026, 1, {"A": 21.0, "B": 22.0})
    out = tmp_path / "out.csv"
    done = settle(files, out, "2026-01", cost=cost)
    assert done.returncode == 0, done.stderr
    assert sum(int(r["amount_dkk"].replace(",", "")) for r in read_out(out)) == total_ore


@pytest.mark.parametrize("cost", ["250.000", "1.000"])
def test_ambiguous_total_cost_is_refused_by_the_cli(tmp_path: Path, cost: str) -> None:
    files = write_files(tmp_path, 2026, 1, {"A": 21.0})
    done = settle(files, tmp_path / "out.csv", "2026-01", cost=cost)
    assert done.returncode == 2
    assert "tvetydigt" in done.stderr and "ambiguous" in done.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("aconto", "area", "aconto_out", "area_out"),
    [
        ("1000", "60", "1000,00", "60,00"),
        ("1000.00", "60.5", "1000,00", "60,50"),
        ("1.000,00", "60,5", "1000,00", "60,50"),
        ("1 000,00", "1 000,25", "1000,00", "1000,25"),
        ("1000,5", "72,25", "1000,50", "72,25"),
    ],
)
def test_csv_columns_use_the_same_rule(
    tmp_path: Path, aconto: str, area: str, aconto_out: str, area_out: str
) -> None:
    rows = [{"flat_id": "A", "area_m2": area, "aconto_dkk": aconto}]
    files = write_files(tmp_path, 2026, 1, {"A": 21.0}, flats_rows=rows)
    out = tmp_path / "out.csv"
    done = settle(files, out, "2026-01")
    assert done.returncode == 0, done.stderr
    (row,) = read_out(out)
    assert (row["aconto_dkk"], row["area_m2"]) == (aconto_out, area_out)


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("aconto_dkk", "1.000", "tvetydigt"),
        ("area_m2", "1.000", "tvetydigt"),
        ("aconto_dkk", "1,000", "to decimaler"),
        ("area_m2", "60 m2", "ikke et tal"),
    ],
)
def test_csv_columns_refuse_ambiguous_values_with_the_line(
    tmp_path: Path, column: str, value: str, says: str
) -> None:
    row = {"flat_id": "A", "area_m2": "60", "aconto_dkk": "0"} | {column: value}
    files = write_files(tmp_path, 2026, 1, {"A": 21.0}, flats_rows=[row])
    done = settle(files, tmp_path / "out.csv", "2026-01")
    assert done.returncode == 2
    assert "linje 2" in done.stderr and column in done.stderr and says in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("sep", "temperature", "co2", "ok"),
    [
        (",", "20.676", "1250", True),  # machine export: decimal point, no thousands
        (";", "20,676", "1.250,0", True),  # Danish spreadsheet
        (";", "20,5", "1.250", False),  # 1250 or 1.25 ppm? refused, never guessed
    ],
)
def test_measurement_columns_follow_the_files_separator(
    tmp_path: Path, sep: str, temperature: str, co2: str, ok: bool
) -> None:
    files = write_files(tmp_path, 2026, 1, {"A": 21.0})
    lines = files.climate.read_text(encoding="utf-8-sig").splitlines()
    body = [line.split(";") for line in lines[1:]]
    rows = [sep.join([t, f, temperature, "45", co2]) for t, f, *_ in body]
    header = sep.join(lines[0].split(";"))
    files.climate.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    done = settle(files, tmp_path / "out.csv", "2026-01")
    if ok:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 2 and "co2_ppm" in done.stderr and "tvetydigt" in done.stderr
