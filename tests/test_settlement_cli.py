"""``indeklima settle`` from CSV files and from the store; clear errors for bad input."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cloud.cli import main
from cloud.registry import Registry
from cloud.servers import InfluxServer
from cloud.settlement.estimate import HEAT_SHARE
from cloud.settlement.names import statement_filename
from cloud.settlement.periods import month_bounds
from cloud.settlement.store_io import WEATHER, heat_shares_from_store, settle_from_store
from cloud.store.base import CLIMATE, Point, TimeSeriesStore

START = month_bounds(2026, 1)[0]  # local midnight, Copenhagen: 2025-12-31T23:00Z
FLATS = (
    "flat_id,area_m2,position_factor,aconto_dkk,monthly_rent_dkk\n"
    "A,60,1.0,1000.00,5000\nB,60,0.9,1000,5000\nC,80.5,1,,\n"
)


def write_inputs(tmp_path: Path, *, step_min: int = 60, days: int = 31) -> dict[str, Path]:
    times = pd.date_range(START, periods=days * 24 * 60 // step_min, freq=f"{step_min}min")
    rows = []
    for flat, t in (("A", 20.0), ("B", 20.0), ("C", 23.0)):
        frame = pd.DataFrame(
            {
                "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "flat_id": flat,
                "temperature_c": t,
                "humidity_pct": 45.0,
                "co2_ppm": 800.0,
            }
        )
        rows.append(frame)
    climate = pd.concat(rows).sample(frac=1.0, random_state=1)  # row order must not matter
    paths = {
        "flats": tmp_path / "flats.csv",
        "climate": tmp_path / "climate.csv",
        "weather": tmp_path / "weather.csv",
    }
    paths["flats"].write_text(FLATS, encoding="utf-8")
    climate.to_csv(paths["climate"], index=False)
    hours = pd.date_range(START, periods=days * 24, freq="1h")
    pd.DataFrame({"time": hours.strftime("%Y-%m-%dT%H:%M:%SZ"), "temperature_c": 2.0}).to_csv(
        paths["weather"], index=False
    )
    return paths


def settle_args(paths: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "settle",
        "--flats", str(paths["flats"]),
        "--climate", str(paths["climate"]),
        "--weather", str(paths["weather"]),
        "--total-cost", "100000.01",
        "--period", "2026-01",
        "--out", str(out),
        "--statement-date", "2026-03-01",
        *extra,
    ]  # fmt: skip


def read_out(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", decimal=",", encoding="utf-8-sig")


@pytest.mark.parametrize("step_min", [5, 60])
def test_settle_from_csv_files_writes_csv_xlsx_and_pdfs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], step_min: int
) -> None:
    paths = write_inputs(tmp_path, step_min=step_min, days=31)
    out, xlsx, pdfs = tmp_path / "out.csv", tmp_path / "out.xlsx", tmp_path / "pdf"
    args = settle_args(paths, out, "--xlsx", str(xlsx), "--pdf-dir", str(pdfs))
    args += ["--bill-received", "2026-02-10", "--runs-db", f"sqlite:///{tmp_path / 'runs.db'}"]
    assert main(args) == 0
    frame = read_out(out)
    assert list(frame["flat_id"]) == ["A", "B", "C"]
    assert round(frame["amount_dkk"].sum() * 100) == 10_000_001
    a, b, c = frame["amount_dkk"]
    assert b < a < c  # exposed B pays less than A; warmer, larger C pays most
    assert list(frame["aconto_dkk"]) == [1000.0, 1000.0, 0.0]
    assert xlsx.stat().st_size > 0
    assert sorted(p.name for p in pdfs.iterdir()) == sorted(
        statement_filename("B", f) for f in ("A", "B", "C")
    )
    captured = capsys.readouterr()
    assert "100000,01" in captured.out and "run 1" in captured.out
    assert "[settle]" in captured.err  # progress on stderr


def test_same_files_give_the_same_csv_bytes(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path, days=31)
    assert main(settle_args(paths, tmp_path / "1.csv")) == 0
    assert main(settle_args(paths, tmp_path / "2.csv")) == 0
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()


@pytest.mark.parametrize(
    ("name", "target", "content", "message"),
    [
        ("no area", "flats", "flat_id,size\nA,60\n", "mangler kolonnen"),
        ("area not a number", "flats", "flat_id,area_m2\nA,sixty\n", "linje 2: area_m2"),
        ("duplicate flat", "flats", "flat_id,area_m2\nA,60\nA,61\n", "to gange"),
        ("aconto in tenths of øre", "flats", "flat_id;area_m2;aconto_dkk\nA;60;1,001\n",
         "to decimaler"),
        ("naive times", "weather", "time,temperature_c\n2026-01-01T00:00:00,2\n", "tidszone"),
        ("unknown flat", "climate",
         "time,flat_id,temperature_c,humidity_pct,co2_ppm\n2026-01-01T00:00:00Z,Z9,20,40,600\n",
         "ikke er i lejlighedsfilen"),
    ],
)  # fmt: skip
def test_bad_csvs_get_a_clear_danish_then_english_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    target: str,
    content: str,
    message: str,
) -> None:
    paths = write_inputs(tmp_path, days=31)
    paths[target].write_text(content, encoding="utf-8")
    assert main(settle_args(paths, tmp_path / "out.csv")) == 2, name
    err = capsys.readouterr().err
    assert message in err and " / " in err, err


def test_bad_period_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = write_inputs(tmp_path, days=31)
    args = settle_args(paths, tmp_path / "o.csv")
    args[args.index("2026-01")] = "2026-13"
    assert main(args) == 2
    assert "ÅÅÅÅ-MM" in capsys.readouterr().err


REGISTRY = """
[[buildings]]
id = "B1"
name = "Tranehaven blok 1"

[[buildings.flats]]
id = "B1-01"
area_m2 = 60.0
aconto_dkk = 1500.0

[[buildings.flats]]
id = "B1-02"
area_m2 = 60.0
position_factor = 0.9

[[buildings.flats]]
id = "B1-03"
area_m2 = 75.0
"""


def fill_store(store: TimeSeriesStore, days: int = 3) -> None:
    points = []
    for i in range(days * 24 * 4):  # 15-minute readings, two rooms in B1-03
        t = START + timedelta(minutes=15 * i)
        ns = int(t.timestamp()) * 10**9
        for flat, room, temp in (
            ("B1-01", "living", 21.0),
            ("B1-02", "living", 21.0),
            ("B1-03", "living", 24.0),
            ("B1-03", "bed", 22.0),
        ):
            tags = {"building": "B1", "flat": flat, "room": room, "sensor": f"s-{flat}-{room}"}
            fields = {"temperature_c": temp, "humidity_pct": 45.0, "co2_ppm": 700.0}
            points.append(Point(CLIMATE, tags, fields, ns))
        points.append(Point(WEATHER, {"building": "B1"}, {"temperature_c": 1.0}, ns))
    store.write(points)


@pytest.fixture(params=["sqlite", pytest.param("influx", marks=pytest.mark.servers)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    if request.param == "sqlite":
        from cloud.store.sqlite import SqliteStore

        made: TimeSeriesStore = SqliteStore(tmp_path / "store.db")
    else:
        from cloud.store.influx import InfluxStore

        server: InfluxServer = request.getfixturevalue("influx_module")
        made = InfluxStore(server.url, f"settle_{tmp_path.name[-12:].replace('-', '_')}")
    yield made
    made.close()


def test_settle_from_store_adds_up_and_writes_heat_shares_back(store: TimeSeriesStore) -> None:
    fill_store(store)
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    end = START + timedelta(days=3)
    result = settle_from_store(store, registry, "B1", START, end, "5000.00")
    assert result.total_dkk == result.cost_dkk == 5000
    one, two, three = result.statements
    assert [s.coverage_pct for s in result.statements] == [100.0, 100.0, 100.0]
    assert three.mean_temperature_c == pytest.approx(23.0)  # rooms averaged
    assert two.amount_ore < one.amount_ore < three.amount_ore
    assert one.aconto_ore == 150_000
    assert "airing_not_available" in result.notes

    as_of = START + timedelta(days=2, hours=5)
    store.write(heat_shares_from_store(store, registry, "B1", START, end, "5000.00", as_of))
    back = store.query(HEAT_SHARE, START, end, where={"building": "B1"})
    assert sorted(back["flat"]) == ["B1-01", "B1-02", "B1-03"]
    assert back["estimated_dkk"].sum() == pytest.approx(5000.0)


def test_cli_settles_a_building_from_the_sqlite_store(tmp_path: Path) -> None:
    from cloud.store.sqlite import SqliteStore

    with SqliteStore(tmp_path / "store.db") as store:
        fill_store(store, days=31)
    (tmp_path / "registry.toml").write_text(REGISTRY, encoding="utf-8")
    out = tmp_path / "out.csv"
    args = ["settle", "--building", "B1", "--registry", str(tmp_path / "registry.toml")]
    args += ["--store", f"sqlite:{tmp_path / 'store.db'}", "--total-cost", "9999.99"]
    args += ["--period", "2026-01", "--out", str(out), "--statement-date", "2026-03-01"]
    assert main(args) == 0
    frame = read_out(out)
    assert list(frame["flat_id"]) == ["B1-01", "B1-02", "B1-03"]
    assert round(frame["amount_dkk"].sum() * 100) == 999_999
    assert np.all(frame["coverage_pct"] == 100.0)
    data = io.BytesIO(out.read_bytes())
    assert data.read(3) == b"\xef\xbb\xbf"
