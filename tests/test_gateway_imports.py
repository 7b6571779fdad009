"""The gateway stays light (≤ 60 MB target, bench/bench_gateway.py): heavy decoder stacks load
only for the sensor kinds a gateway is configured with."""

from __future__ import annotations

import subprocess
import sys

from tests.stack import ROOT


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return set(done.stdout.split())


def test_gateway_modules_do_not_load_home_assistant_stack_or_cloud() -> None:
    mods = loaded_after(
        "import edge.runner, edge.sensors.ble.source, edge.gateway, edge.sensors.ble.supervisor,"
        " edge.sensors.ble.scanning, edge.sensors.grid, edge.gateway_cli, edge.decode_cli,"
        " cloud.cli"
    )
    assert "habluetooth" not in mods
    assert "bthome_ble" not in mods
    cloud = sorted(m for m in mods if m == "cloud" or m.startswith("cloud."))
    assert cloud == ["cloud", "cloud.cli"]  # edge never imports cloud; the command's dispatcher
    assert "pandas" not in mods
    assert "pydantic" not in mods  # settings are msgspec Structs: ~9 MB less on a Pi


def test_a_ruuvi_only_source_does_not_load_bthome() -> None:
    mods = loaded_after(
        "from edge.config import SensorConfig\n"
        "from edge.sensors.ble.source import BleSource\n"
        "cfg = SensorConfig(id='r', kind='ruuvi', building='B', flat='F', room='r',"
        " address='C4:7C:8D:6A:01:02')\n"
        "BleSource({cfg.device: cfg}, lambda s: None)"
    )
    assert "bthome_ble" not in mods and "habluetooth" not in mods
