"""`indeklima demo` end to end: a simulated day of a 12-flat building through real BLE bytes,
real ptys, a private Mosquitto, a separate ingest process and the SQLite store; then the jobs
and the settlement. Nothing lost, nothing doubled, and the promised summary keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack import ROOT

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def test_demo_one_day(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud.cli",
            "demo",
            "--days",
            "1",
            "--json",
            "--no-web",
            "--seed",
            "3",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["flats"] == 12
    assert summary["readings_sent"] > 30_000
    assert summary["readings_stored"] == summary["readings_sent"]
    assert summary["outbox_pending"] == 0 and summary["outbox_dropped"] == 0
    assert summary["dead_letters"] == 0
    # the laundry flat (B1-104) warns of mould risk; the well-behaved flats do not
    assert summary["mould_alert_flats"] == ["B1-104"]
    assert 0 <= summary["flats_red_this_month"] <= 12
    assert summary["settlement_total_dkk"] == summary["settlement_cost_dkk"] > 0
    assert summary["heat_share_points"] == 12
    assert "simuleret / simulated" in done.stderr  # progress on long work


def test_demo_refuses_bad_flats(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cloud.cli", "demo", "--flats", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "--flats" in done.stderr
