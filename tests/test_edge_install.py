"""The gateway as a Raspberry Pi installs it: ``pip install '.[edge]'`` alone, in a fresh
virtual environment (``make test-edge`` makes ``.venv-edge`` and sets INDEKLIMA_EDGE_VENV).
Its ``indeklima`` runs every gateway command — ``--help``, ``decode`` on a vendor vector,
``gateway scan`` ending with a clear message where there is no Bluetooth, a short ``gateway``
run against a real Mosquitto with a serial sensor on a real pty — and neither has nor loads a
cloud library. Commands run from a temporary folder, so the installed package is what runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cloud.servers import MosquittoServer
from firmware_sim.devices.serial_responders import Mhz19bResponder

VENV = os.environ.get("INDEKLIMA_EDGE_VENV")
pytestmark = pytest.mark.skipif(
    not VENV, reason="run by `make test-edge` (an edge-only install in .venv-edge)"
)
CLOUD_LIBRARIES = ("numpy", "pandas", "fastapi", "sqlalchemy", "pydantic", "pydantic_core")
RUUVI_DF5_VALID = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"
"""docs.ruuvi.com, data format 5, test vector "valid data"."""
PROBE = (
    "import atexit, sys\n"
    "path = sys.argv[1]\n"
    "def dump():\n"
    "    with open(path, 'w') as out:\n"
    "        out.write(' '.join(sorted(sys.modules)))\n"
    "atexit.register(dump)\n"
    "from cloud.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)
"""``python -c PROBE MODULES_FILE ARGS…``: ``indeklima ARGS…``, then the loaded modules."""


def venv() -> Path:
    assert VENV is not None
    return Path(VENV).resolve()


def indeklima(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the edge install's ``indeklima``, noting which modules it loaded."""
    return subprocess.run(
        [str(venv() / "bin" / "python"), "-c", PROBE, str(tmp_path / "modules.txt"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )


def loaded(tmp_path: Path) -> set[str]:
    return set((tmp_path / "modules.txt").read_text().split())


def assert_no_cloud(modules: set[str]) -> None:
    heavy = sorted(m for m in modules if m.split(".")[0] in CLOUD_LIBRARIES)
    assert not heavy, heavy
    cloud = sorted(m for m in modules if m.split(".")[0] == "cloud")
    assert cloud == ["cloud", "cloud.cli"], cloud  # the command's dispatcher, nothing else


def test_the_edge_install_has_no_cloud_library() -> None:
    listed = subprocess.run(
        [str(venv() / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    names = {p["name"].lower().replace("-", "_") for p in json.loads(listed.stdout)}
    assert "indeklima" in names and "bleak" in names
    assert not names & set(CLOUD_LIBRARIES), sorted(names & set(CLOUD_LIBRARIES))
    where = subprocess.run(
        [str(venv() / "bin" / "python"), "-c", "import edge; print(edge.__file__)"],
        capture_output=True, text=True, timeout=60, check=True, cwd="/",
    )  # fmt: skip
    assert "site-packages" in where.stdout  # a real install, not this source tree


@pytest.mark.parametrize("args", [["--help"], ["gateway", "--help"], ["decode", "--help"]])
def test_help(tmp_path: Path, args: list[str]) -> None:
    done = indeklima(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert "usage: indeklima" in done.stdout
    assert_no_cloud(loaded(tmp_path))


def test_decode_a_vendor_vector(tmp_path: Path) -> None:
    done = indeklima(tmp_path, "decode", "--manufacturer-id", "0x0499", RUUVI_DF5_VALID)
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    assert (values["temperature_c"], values["humidity_pct"]) == (24.3, 53.49)
    assert values["pressure_hpa"] == 1000.44 and values["battery_mv"] == 2977.0
    assert_no_cloud(loaded(tmp_path))


def test_scan_without_bluetooth_ends_with_a_clear_message(tmp_path: Path) -> None:
    done = indeklima(tmp_path, "gateway", "scan", "--duration", "1", "--adapter", "hci97")
    assert done.returncode == 3, (done.stdout, done.stderr)
    assert "Bluetooth is not available on this machine (adapter hci97)" in done.stderr
    assert done.stderr.startswith("fejl: Bluetooth kan ikke bruges")
    assert "Traceback" not in done.stderr
    assert_no_cloud(loaded(tmp_path))


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["simulate", "--help"], "sim"),  # its module imports numpy
        (["demo", "--days", "1"], "cloud"),  # its run() imports pydantic
        (["mould-index", "x.csv"], "cloud"),
    ],
)
def test_a_cloud_command_names_the_extra_it_needs(
    tmp_path: Path, args: list[str], extra: str
) -> None:
    done = indeklima(tmp_path, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"pip install 'indeklima[{extra}]'" in done.stderr
    assert done.stderr.startswith("fejl:") and "Traceback" not in done.stderr


@pytest.mark.servers
def test_a_short_gateway_run_against_mosquitto(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    """BLE unavailable here (and said so); the serial sensor's readings reach the broker."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    with Mhz19bResponder(lambda: {"co2_ppm": 640.0}) as mhz:
        config = tmp_path / "gateway.toml"
        config.write_text(
            f"""gateway_id = "gw-edge"
status_interval_s = 0.5
[mqtt]
url = "{mosquitto.url}"
[outbox]
path = "{tmp_path / "outbox.sqlite"}"
batch_max_age_s = 0.2
[ble]
adapter = "hci97"
retry_max_s = 1
[[sensors]]
id = "co2-1"
kind = "mhz19b"
building = "B1"
flat = "F1"
room = "r"
port = "{mhz.port}"
poll_interval_s = 0.2
[[sensors]]
id = "ruuvi-1"
kind = "ruuvi"
building = "B1"
flat = "F1"
room = "r"
address = "C4:7C:8D:6A:01:02"
"""
        )
        seen: dict[str, bytes] = {}
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="edge-watch")
        client.on_message = lambda c, u, m: seen.__setitem__(m.topic.rsplit("/", 1)[1], m.payload)
        client.connect("127.0.0.1", int(mosquitto.url.rsplit(":", 1)[1]))
        client.subscribe("indeklima/v1/gw/gw-edge/#", qos=1)
        client.loop_start()
        proc = subprocess.Popen(
            [str(venv() / "bin" / "python"), "-c", PROBE, str(tmp_path / "modules.txt"),
             "gateway", "--config", str(config)],
            cwd=tmp_path, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not ("readings" in seen and "status" in seen):
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
            client.loop_stop()
            client.disconnect()
    assert proc.returncode == 0, stderr
    assert "readings" in seen, stderr
    batch = json.loads(seen["readings"])
    assert batch["readings"][0]["sensor"] == "co2-1"
    assert batch["readings"][0]["values"]["co2_ppm"] == 640.0
    assert "utilgængelig" in stderr and "unavailable" in stderr  # BLE: said, not fatal
    assert "Traceback" not in stderr
    assert_no_cloud(loaded(tmp_path))
