"""Issue 13: buildings whose sensors measure no CO2 (RuuviTag, Xiaomi) settle under every
method from temperature and humidity alone; statements say what the points rest on; "no data"
only when there were none. A period without any data is refused, naming building and period."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from cloud.cli import main
from cloud.registry import Registry
from cloud.settlement.engine import SettlementError
from cloud.settlement.engine import settle as settle_inputs
from cloud.settlement.model import FlatInfo
from cloud.settlement.names import statement_filename
from cloud.settlement.pdf import FontMissing, write_statements
from cloud.settlement.periods import month_bounds
from cloud.settlement.store_io import WEATHER, settle_from_store
from cloud.settlement.synthetic import constant_inputs, tariff_with_method
from cloud.store.base import CLIMATE, Point
from cloud.store.sqlite import SqliteStore
from tests.settle_files import pdf_text, read_out, settle, write_files

METHODS = ["degree_hours", "band_hours", "area", "hca"]
INDOOR = {"A": 21.0, "B": 23.5}


def tariff_file(folder: Path, method: str) -> Path:
    path = folder / f"{method}.toml"
    path.write_text(
        (Path("cloud/settlement/default_tariff.toml"))
        .read_text(encoding="utf-8")
        .replace('method = "degree_hours"', f'method = "{method}"'),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("method", METHODS)
def test_files_without_a_co2_column_settle_under_every_method(tmp_path: Path, method: str) -> None:
    rows = [{"flat_id": f, "area_m2": "60", "hca_units": str(10 + i)} for i, f in enumerate(INDOOR)]
    files = write_files(tmp_path, 2026, 2, INDOOR, co2=False, flats_rows=rows)
    assert "co2_ppm" not in files.climate.read_text(encoding="utf-8-sig")
    out, pdfs = tmp_path / "out.csv", tmp_path / "pdf"
    tariff = tariff_file(tmp_path, method)
    done = settle(files, out, "2026-02", "--tariff", str(tariff), "--pdf-dir", str(pdfs))
    assert done.returncode == 0, done.stderr
    rows_out = read_out(out)
    assert all("no_data" not in r["flags"] for r in rows_out)
    assert [r["coverage_pct"] for r in rows_out] == ["100,0", "100,0"]
    text = pdf_text(pdfs / statement_filename("B", "A"))
    assert "Ingen måledata" not in text
    basis = text.split("Målinger bag pointene", 1)[1].split("Målte værdier", 1)[0]
    if method in ("degree_hours", "band_hours"):
        assert "temperatur" in basis and "CO2 måles ikke" in basis, basis
        a, b = (int(r["amount_dkk"].replace(",", "")) for r in rows_out)
        assert b > a  # the warmer flat pays more on temperature alone
    if method == "band_hours":
        assert "luftfugtighed" in basis
        flat_text = " ".join(text.split())  # justified lines extract with extra spaces
        bands = flat_text.split("timer uden for båndet:", 1)[1].split("point (efter", 1)[0]
        assert "for tørt" in bands and "CO2" not in bands  # left out, not shown as 0 hours
        assert "co2_bands_left_out=not_measured" in done.stdout
    if method == "degree_hours":
        assert "airing_not_available=no_co2" in done.stdout
    if method == "area":
        assert "arealet" in basis


def test_an_empty_co2_column_is_not_measured_either(tmp_path: Path) -> None:
    files = write_files(tmp_path, 2026, 2, INDOOR)
    text = files.climate.read_text(encoding="utf-8-sig")
    lines = [line.rsplit(";", 1)[0] + ";" for line in text.splitlines()[1:]]
    files.climate.write_text("\n".join([text.splitlines()[0], *lines]) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    done = settle(files, out, "2026-02", "--tariff", str(tariff_file(tmp_path, "band_hours")))
    assert done.returncode == 0, done.stderr
    assert all("no_data" not in r["flags"] for r in read_out(out))


REGISTRY = """
[[buildings]]
id = "R1"
name = "Ruuvi-blokken"

[[buildings.flats]]
id = "R1-01"
area_m2 = 60.0

[[buildings.flats]]
id = "R1-02"
area_m2 = 60.0

[[buildings.flats]]
id = "R1-03"
area_m2 = 60.0
"""


def fill(store: SqliteStore, month: int, flats: dict[str, float]) -> None:
    start, end = month_bounds(2026, month)
    points = []
    for h in range(int((end - start) / timedelta(hours=1))):
        ns = int((start + timedelta(hours=h)).timestamp()) * 10**9
        for flat, t in flats.items():
            tags = {"building": "R1", "flat": flat, "room": "living", "sensor": flat}
            points.append(Point(CLIMATE, tags, {"temperature_c": t, "humidity_pct": 45.0}, ns))
        points.append(Point(WEATHER, {"building": "R1"}, {"temperature_c": 2.0}, ns))
    store.write(points)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    made = SqliteStore(tmp_path / "store.db")
    fill(made, 3, {"R1-01": 21.0, "R1-02": 23.0})  # R1-03's sensor never reported
    return made


@pytest.mark.parametrize("method", ["degree_hours", "band_hours", "area"])
def test_store_without_co2_flags_no_data_only_for_the_silent_flat(
    store: SqliteStore, method: str
) -> None:
    from cloud.settlement.pdf import statement_lines

    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    start, end = month_bounds(2026, 3)
    tariff = tariff_with_method(method)
    result = settle_from_store(store, registry, "R1", start, end, "9000,00", tariff)
    store.close()
    flags = {s.flat_id: s.flags for s in result.statements}
    assert "no_data" not in flags["R1-01"] and "no_data" not in flags["R1-02"]
    if method != "area":
        assert "no_data" in flags["R1-03"]
    lines = dict(statement_lines(result, result.statement("R1-01")))
    assert "Ingen måledata" not in lines.get("Bemærkninger", "")
    if method == "band_hours":
        assert result.measured_quantities == ("temperature", "humidity")
        assert "CO2 måles ikke" in lines["Målinger bag pointene"]


def test_a_period_without_any_data_is_refused_naming_building_and_period(
    store: SqliteStore,
) -> None:
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    start, end = month_bounds(2026, 6)
    with pytest.raises(SettlementError) as caught:
        settle_from_store(store, registry, "R1", start, end, "9000,00")
    store.close()
    message = str(caught.value)
    assert "R1" in message and "2026-06 (2026-06-01 til 2026-06-30)" in message
    assert " / " in message


def test_all_empty_files_are_refused_by_the_cli(tmp_path: Path) -> None:
    files = write_files(tmp_path, 2026, 3, INDOOR, empty=True)
    done = settle(files, tmp_path / "out.csv", "2026-03", "--building-id", "Tranehaven")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "Tranehaven" in done.stderr and "2026-03 (2026-03-01 til 2026-03-31)" in done.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "rows",
    [
        [],
        ["2026-01-01T00:00Z,,", "2026-01-01T01:00Z,,"],
        ["2026-01-01T00:00Z,20,", "2026-01-01T01:00Z,,80"],
    ],
    ids=["header-only", "all-empty", "never-both"],
)
def test_mould_index_refuses_input_without_usable_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str]
) -> None:
    path = tmp_path / "logger.csv"
    path.write_text("\n".join(["time,temperature_c,humidity_pct", *rows]) + "\n", "utf-8")
    assert main(["mould-index", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ingen brugbare rækker" in captured.err and "no usable rows" in captured.err


def test_a_mixed_building_leaves_co2_out_for_every_flat_alike() -> None:
    flats = [FlatInfo("A", 60.0), FlatInfo("B", 60.0)]
    inputs = constant_inputs(
        flats, [21.0, 21.0], co2_ppm=[1500.0, 1500.0], tariff=tariff_with_method("band_hours")
    )
    co2 = inputs.climate.co2_ppm.copy()
    co2[1] = np.nan  # B's sensor (a RuuviTag) measures no CO2; A's reads 1500 ppm all along
    climate = type(inputs.climate)(
        inputs.climate.flat_ids, inputs.climate.start, 3600,
        inputs.climate.temperature_c, inputs.climate.humidity_pct, co2,
    )  # fmt: skip
    result = settle_inputs(replace(inputs, climate=climate))
    a, b = result.statements
    assert a.amount_ore == b.amount_ore  # A is not charged for a band B cannot be measured in
    assert "co2_bands_left_out=not_measured" in result.notes
    assert "no_data" not in b.flags and b.substituted_h == 0


def test_statements_are_refused_without_the_unicode_font(tmp_path: Path) -> None:
    result = settle_inputs(constant_inputs([FlatInfo("Łukasz", 60.0)], [21.0]))
    with pytest.raises(FontMissing, match="fonts-dejavu-core"):
        write_statements(result, tmp_path / "pdf", font_dirs=(tmp_path,))
    assert not (tmp_path / "pdf").exists()  # refused before writing anything
