"""Decode throughput per BLE format (adverts/s, median of 5 runs), and import memory cost.

    python bench/bench_decode.py

Side by side for each format: the gateway's path (`edge.sensors.ble.decode`), the library's
full Home Assistant parser (`*BluetoothDeviceData.update(service_info)`) where one exists, and
a minimal struct-based baseline written here (no validation, no "not available" handling).
"""

from __future__ import annotations

import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable

from bthome_ble import BTHomeBluetoothDeviceData
from ruuvitag_ble import RuuvitagBluetoothDeviceData

from edge.sensors.ble import RawAdvert, decode
from edge.sensors.ble.service_info import to_service_info
from firmware_sim.devices import ble as emu

MAC = "C4:7C:8D:6A:01:02"
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
N = 3000
RUNS = 5


def rate(fn: Callable[[], object], n: int = N) -> float:
    results = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        results.append(n / (time.perf_counter() - t0))
    return statistics.median(results)


def struct_df5(data: bytes) -> tuple[float, float, float, int]:
    _, t, h, p, _, _, _, power, _, _ = struct.unpack_from(">BhHHhhhHBH", data)
    return t * 0.005, h * 0.0025, (p + 50000) / 100, (power >> 5) + 1600


def struct_bthome_th(data: bytes) -> tuple[float, float]:
    return struct.unpack_from("<h", data, 2)[0] / 100, struct.unpack_from("<H", data, 5)[0] / 100


def main() -> None:
    df5 = RawAdvert(MAC, -60, {0x0499: emu.ruuvi_df5(21.3, 45.2, 1012.3, 2950, 17, MAC)})
    e1 = RawAdvert(MAC, -60, {0x0499: emu.ruuvi_e1(21.3, 45.2, 1012.3, 800, (1, 2, 3, 4), 17, MAC)})
    df6 = RawAdvert(MAC, -60, {0x0499: emu.ruuvi_df6(21.3, 45.2, 1012.3, 800, 2.0, 17, MAC)})
    aranet = RawAdvert(MAC, -60, {0x0702: emu.aranet4(900, 21.3, 45, 1012.3, 80)})
    bth_plain = RawAdvert(
        MAC,
        -60,
        service_data={
            emu.BTHOME_UUID: emu.bthome_v2(
                {"temperature_c": 21.3, "humidity_pct": 45.2}, packet_id=3
            )
        },
    )
    bth_enc = RawAdvert(
        MAC,
        -60,
        service_data={
            emu.BTHOME_UUID: emu.bthome_v2(
                {"temperature_c": 21.3, "humidity_pct": 45.2}, bind_key=KEY, mac=MAC, counter=5
            )
        },
    )
    pvvx = RawAdvert(
        MAC, -60, service_data={emu.ENV_SENSING_UUID: emu.pvvx(21.3, 45.2, 90, 2950, 3, MAC)}
    )
    atc = RawAdvert(
        MAC, -60, service_data={emu.ENV_SENSING_UUID: emu.atc1441(21.3, 45, 90, 2950, 3, MAC)}
    )

    ruuvi_lib = RuuvitagBluetoothDeviceData()
    df5_si = to_service_info(df5)
    df5_bytes = df5.manufacturer_data[0x0499]
    bth_si = to_service_info(bth_plain)
    bth_bytes = bth_plain.service_data[emu.BTHOME_UUID]

    rows: list[tuple[str, float, float | None, float | None]] = [
        (
            "ruuvi_df5",
            rate(lambda: decode(df5)),
            rate(lambda: ruuvi_lib.update(df5_si)),
            rate(lambda: struct_df5(df5_bytes)),
        ),
        ("ruuvi_df6", rate(lambda: decode(df6)), None, None),
        ("ruuvi_e1", rate(lambda: decode(e1)), None, None),
        ("aranet4", rate(lambda: decode(aranet)), None, None),
        (
            "bthome_v2 plain",
            rate(lambda: decode(bth_plain)),
            rate(lambda: BTHomeBluetoothDeviceData().update(bth_si)),
            rate(lambda: struct_bthome_th(bth_bytes)),
        ),
        ("bthome_v2 AES-CCM", rate(lambda: decode(bth_enc, KEY)), None, None),
        ("pvvx (own decoder)", rate(lambda: decode(pvvx)), None, None),
        ("atc1441 (own decoder)", rate(lambda: decode(atc)), None, None),
    ]
    print(f"decode throughput, adverts/s, median of {RUNS} runs of {N}")
    print(f"{'format':24} {'gateway':>10} {'HA parser':>10} {'struct':>10} {'gw/HA':>6}")
    for name, gw, lib, base in rows:
        ratio = f"{gw / lib:6.2f}" if lib else "     -"
        lib_s = f"{lib:10.0f}" if lib else "         -"
        base_s = f"{base:10.0f}" if base else "         -"
        print(f"{name:24} {gw:10.0f} {lib_s} {base_s} {ratio}")
    print()
    print_memory()


def _rss_kb(code: str) -> int:
    script = (
        f"{code}\nimport re; "
        "print(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    rss = [
        int(subprocess.check_output([sys.executable, "-c", script], text=True)) for _ in range(3)
    ]
    return int(statistics.median(rss))


def print_memory() -> None:
    """Resident set (VmRSS, Linux) of a fresh interpreter right after the import."""
    base = _rss_kb("pass")
    print("memory: VmRSS of `python -c 'import X'`, MiB (added over bare python)")
    print(f"{'bare python':32} {base / 1024:6.1f}")
    for mod in (
        "bleak",
        "ruuvitag_ble",
        "aranet4",
        "bthome_ble",
        "habluetooth",
        "bluetooth_auto_recovery",
        "edge.sensors.ble",
        "edge.sensors.ble.source",
    ):
        kb = _rss_kb(f"import {mod}")
        print(f"{mod:32} {kb / 1024:6.1f}  (+{(kb - base) / 1024:.1f})")


if __name__ == "__main__":
    main()
