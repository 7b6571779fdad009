"""``indeklima mould-index INPUT.csv``: logger CSV in, ``time,mould_index`` out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cloud.analytics import vtt
from cloud.analytics.surface import surface_conditions
from cloud.cli import main


def _write(path: Path, rows: list[str], header: str = "time,temperature_c,humidity_pct") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _hourly(n: int, temperature: float, rh: float) -> list[str]:
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    return [f"{(start + pd.Timedelta(hours=i)).isoformat()},{temperature},{rh}" for i in range(n)]


def _result(capsys: pytest.CaptureFixture[str]) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"time": str})


def test_hourly_surface_file_gives_the_model_value_per_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "in.csv", _hourly(500, 22.0, 90.0))
    assert main(["mould-index", str(path), "--sensitivity", "sensitive", "--decline", "1"]) == 0
    out = _result(capsys)
    expected, _ = vtt.run(np.full(500, 22.0), np.full(500, 90.0), vtt.Sensitivity.SENSITIVE)
    assert list(out.columns) == ["time", "mould_index"]
    assert len(out) == 500
    assert out["time"].iloc[3] == "2026-01-01T03:00:00+00:00"  # echoed as given
    np.testing.assert_allclose(out["mould_index"], expected, atol=5e-5)


def test_time_column_is_echoed_verbatim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["2026-01-01 00:00Z,22,95", "2026-01-01 01:00Z,22,95"]
    assert main(["mould-index", str(_write(tmp_path / "in.csv", rows))]) == 0
    assert _result(capsys)["time"].tolist() == ["2026-01-01 00:00Z", "2026-01-01 01:00Z"]


def test_ten_minute_logger_matches_hourly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step length from the timestamps, rates scaled by it: the growth is the same per hour."""
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    rows = [f"{(start + pd.Timedelta(minutes=10 * i)).isoformat()},22,95" for i in range(6 * 48)]
    assert main(["mould-index", str(_write(tmp_path / "in.csv", rows))]) == 0
    ten_min = _result(capsys)["mould_index"].to_numpy()
    hourly, _ = vtt.run(np.full(48, 22.0), np.full(48, 95.0), vtt.Sensitivity.SENSITIVE)
    np.testing.assert_allclose(ten_min[5::6], hourly, rtol=2e-3, atol=1e-4)


def test_long_logger_gap_freezes_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*_hourly(24, 22.0, 95.0), "2026-01-03T00:00:00+00:00,22,95"]  # a 25 h silence
    assert main(["mould-index", str(_write(tmp_path / "in.csv", rows))]) == 0
    m = _result(capsys)["mould_index"].to_numpy()
    step = m[23] - m[22]
    assert m[24] - m[23] == pytest.approx(step, abs=2e-4)  # one hour of growth, not 25


def test_frsi_treats_columns_as_room_air(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    rows = [f"{(start + pd.Timedelta(hours=i)).isoformat()},20,60,-5" for i in range(200)]
    path = _write(
        tmp_path / "room.csv", rows, "time,temperature_c,humidity_pct,outdoor_temperature_c"
    )
    assert main(["mould-index", str(path), "--frsi", "0.7", "--sensitivity", "sensitive"]) == 0
    out = _result(capsys)["mould_index"].to_numpy()
    theta, rh = surface_conditions(20.0, 60.0, -5.0, 0.7)  # 12.5 °C, ~97 %
    expected, _ = vtt.run(np.full(200, theta), np.full(200, rh), vtt.Sensitivity.SENSITIVE)
    np.testing.assert_allclose(out, expected, atol=5e-5)
    assert out[-1] > 0


@pytest.mark.parametrize(
    ("header", "rows", "args", "message"),
    [
        pytest.param(
            "time,temperature_c",
            ["2026-01-01T00:00Z,20"],
            [],
            "mangler kolonne(r) humidity_pct",
            id="missing humidity column",
        ),
        pytest.param(
            "time,temperature_c,humidity_pct",
            ["2026-01-01T00:00Z,20,60"],
            ["--frsi", "0.7"],
            "missing column(s) outdoor_temperature_c",
            id="--frsi without outdoor column",
        ),
        pytest.param(
            "time,temperature_c,humidity_pct",
            ["2026-01-01T00:00Z,20,60", "2026-01-01T01:00Z,varm,60"],
            [],
            "række 3: temperature_c = 'varm' er ikke et tal",
            id="text in a number column",
        ),
        pytest.param(
            "time,temperature_c,humidity_pct",
            ["igår,20,60"],
            [],
            "række 2: tiden 'igår' kan ikke læses",
            id="unreadable time",
        ),
        pytest.param(
            "time,temperature_c,humidity_pct",
            ["2026-01-01T01:00Z,20,60", "2026-01-01T00:00Z,20,60"],
            [],
            "time does not increase",
            id="rows out of order",
        ),
        pytest.param(
            "time,temperature_c,humidity_pct",
            ["2026-01-01T00:00Z,20,60"],
            ["--decline", "2"],
            "must be within 0-1",
            id="Cmat out of range",
        ),
    ],
)
def test_clear_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    header: str,
    rows: list[str],
    args: list[str],
    message: str,
) -> None:
    path = _write(tmp_path / "bad.csv", rows, header)
    assert main(["mould-index", str(path), *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mould-index", str(tmp_path / "nope.csv")]) == 2
    assert "kan ikke læse" in capsys.readouterr().err


def test_as_a_real_command(tmp_path: Path) -> None:
    path = _write(tmp_path / "in.csv", _hourly(30, 24.0, 97.0))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud.cli",
            "mould-index",
            str(path),
            "--sensitivity",
            "very-sensitive",
            "--decline",
            "0.5",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "time,mould_index"
    assert len(lines) == 31
    assert float(lines[-1].split(",")[1]) > float(lines[1].split(",")[1]) > 0
