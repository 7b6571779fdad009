"""BleSource through bleak's real API with the injected backend: filtering, de-duplication,
commissioning list, decode-error counting and adapter recovery."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakScanner

from edge.config import SensorConfig, SensorKind
from edge.sensors.ble.injected import InjectedAdapters, InjectedScanner
from edge.sensors.ble.model import BleFormat
from edge.sensors.ble.recovery import backoff_delays
from edge.sensors.ble.scan import scan
from edge.sensors.ble.scanning import scanner_kwargs
from edge.sensors.ble.source import AdapterError, BleSource
from edge.sensors.model import Sample
from firmware_sim.devices import ble as emu

RUUVI = "C4:7C:8D:6A:01:02"
BTH = "54:48:E6:8F:80:A5"
KEY_HEX = "231d39c1d7cc1ab1aee224cd096db932"
STRANGER = "AA:AA:AA:AA:AA:01"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def cfg(sid: str, kind: SensorKind, address: str, bind_key: str | None = None) -> SensorConfig:
    return SensorConfig(
        id=sid,
        kind=kind,
        building="b1",
        flat="a12",
        room="stue",
        address=address,
        bind_key=bind_key,
    )


DEVICES = {
    RUUVI: cfg("ruuvi-1", SensorKind.RUUVI, RUUVI),
    BTH: cfg("bthome-1", SensorKind.BTHOME, BTH, KEY_HEX),
}


@pytest.fixture
def adapters(monkeypatch: pytest.MonkeyPatch) -> InjectedAdapters:
    registry = InjectedAdapters()
    monkeypatch.setattr(InjectedScanner, "registry", registry)
    return registry


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def df5(seq: int, t: float = 21.0) -> dict[int, bytes]:
    return {0x0499: emu.ruuvi_df5(t, 45.0, 1012.0, 2900, seq, RUUVI)}


async def test_injected_backend_delivers_through_bleak(adapters: InjectedAdapters) -> None:
    seen: list[tuple[str, dict[int, bytes]]] = []
    scanner = BleakScanner(
        lambda d, a: seen.append((d.address, a.manufacturer_data)),
        backend=InjectedScanner,
        **scanner_kwargs("sim0", "passive", [SensorKind.RUUVI]),
    )
    async with scanner:
        assert adapters.get("sim0").push(RUUVI, -60, df5(1)) == 1
        await settle()
    assert seen == [(RUUVI, df5(1))]
    assert adapters.get("sim0").push(RUUVI, -60, df5(2)) == 0  # stopped: nobody listens


async def test_push_from_another_thread(adapters: InjectedAdapters) -> None:
    samples: list[Sample] = []
    async with BleSource(DEVICES, samples.append, backend=InjectedScanner):
        await asyncio.to_thread(adapters.get("hci0").push, RUUVI, -60, df5(5))
        await settle()
    assert [s.sequence for s in samples] == [5]


async def test_samples_filtered_deduplicated_and_unknown_listed(adapters: InjectedAdapters) -> None:
    samples: list[Sample] = []
    src = BleSource(DEVICES, samples.append, backend=InjectedScanner)
    async with src:
        hci = adapters.get("hci0")
        for seq in (7, 7, 7, 8):
            hci.push(RUUVI, -61, df5(seq))
        hci.push(STRANGER, -70, {0x0499: emu.ruuvi_df5(20.0, 40.0, 1000.0, 3000, 1, STRANGER)})
        hci.push(STRANGER, -70, {0x0499: emu.ruuvi_df5(20.0, 40.0, 1000.0, 3000, 2, STRANGER)})
        hci.push("AA:AA:AA:AA:AA:02", -80, {0x004C: b"\x02\x15"})  # an iPhone: BlueZ filters it
        await settle()
    assert [(s.device, s.sequence, s.rssi_dbm) for s in samples] == [
        (RUUVI, 7, -61),
        (RUUVI, 8, -61),
    ]
    assert samples[0].values.temperature_c == pytest.approx(21.0)
    assert src.stats.devices[RUUVI].duplicates == 2
    assert src.unknown_devices == {STRANGER: str(BleFormat.RUUVI_DF5)}
    assert src.stats.unknown_adverts == 2  # the passive scan's patterns keep the iPhone out


async def test_unknown_sensor_list_is_bounded(
    adapters: InjectedAdapters, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edge.sensors.ble.source as source

    monkeypatch.setattr(source, "MAX_UNKNOWN_DEVICES", 3)
    src = BleSource(DEVICES, [].append, backend=InjectedScanner)
    async with src:
        hci = adapters.get("hci0")
        for n in range(6):
            address = f"C4:7C:8D:6A:99:{n:02X}"
            hci.push(address, -70, {0x0499: emu.ruuvi_df5(20.0, 40.0, 1000.0, 3000, 1, address)})
        await settle()
    assert len(src.unknown_devices) == 3  # the first three, logged once each
    assert src.stats.unknown_adverts == 6  # every one counted


async def test_keyed_bthome_plaintext_refused_and_counted(adapters: InjectedAdapters) -> None:
    samples: list[Sample] = []
    key = bytes.fromhex(KEY_HEX)
    plain = emu.bthome_v2({"temperature_c": 21.5, "co2_ppm": 800}, packet_id=1)
    sealed = emu.bthome_v2(
        {"temperature_c": 21.5, "co2_ppm": 800}, bind_key=key, mac=BTH, counter=9
    )
    src = BleSource(DEVICES, samples.append, backend=InjectedScanner)
    async with src:
        hci = adapters.get("hci0")
        hci.push(BTH, -50, service_data={emu.BTHOME_UUID: plain})
        hci.push(BTH, -50, service_data={emu.BTHOME_UUID: sealed})
        hci.push(BTH, -50, service_data={emu.BTHOME_UUID: sealed})  # repeated advert
        await settle()
    assert [(s.values.temperature_c, s.values.co2_ppm) for s in samples] == [(21.5, 800.0)]
    stats = src.stats.devices[BTH]
    assert (stats.decode_errors, stats.duplicates) == (1, 1)
    assert stats.last_error is not None and "unencrypted" in stats.last_error


async def test_wrong_kind_is_a_decode_error(adapters: InjectedAdapters) -> None:
    samples: list[Sample] = []
    devices = {RUUVI: cfg("x", SensorKind.ARANET4, RUUVI)}
    # active: a passive scan's patterns (Aranet4's company id only) would keep the Ruuvi out
    src = BleSource(devices, samples.append, backend=InjectedScanner, scanning="active")
    async with src:
        adapters.get("hci0").push(RUUVI, -60, df5(1))
        await settle()
    assert samples == []
    assert src.stats.devices[RUUVI].decode_errors == 1


async def test_on_sample_exception_does_not_escape(adapters: InjectedAdapters) -> None:
    def boom(_: Sample) -> None:
        raise RuntimeError("downstream broke")

    src = BleSource(DEVICES, boom, backend=InjectedScanner)
    async with src:
        adapters.get("hci0").push(RUUVI, -60, df5(1))
        await settle()
    assert src.stats.callback_errors == 1


@pytest.mark.parametrize(("fail_starts", "attempts"), [(0, 1), (2, 3), (4, 5)])
async def test_start_retries_and_recovers(
    adapters: InjectedAdapters, fail_starts: int, attempts: int
) -> None:
    adapters.get("hci0").fail_starts = fail_starts
    resets: list[str] = []

    async def recover(name: str, *, gone_silent: bool = False) -> bool:
        assert not gone_silent  # a start failure, not a silent adapter
        resets.append(name)
        return True

    src = BleSource(
        DEVICES,
        lambda s: None,
        backend=InjectedScanner,
        recover=recover,
        start_attempts=5,
        backoff_initial_s=0.0,
        backoff_max_s=0.0,
    )
    async with src:
        assert src.running
    assert adapters.get("hci0").starts == attempts
    assert src.stats.start_failures == fail_starts
    assert resets == ["hci0"] * fail_starts
    assert src.stats.recoveries == fail_starts


async def test_gives_up_after_bounded_attempts(adapters: InjectedAdapters) -> None:
    adapters.get("hci0").fail_starts = 10
    src = BleSource(
        DEVICES,
        lambda s: None,
        backend=InjectedScanner,
        start_attempts=3,
        backoff_initial_s=0.0,
        backoff_max_s=0.0,
    )
    with pytest.raises(AdapterError, match="after 3 attempts"):
        await src.start()
    assert src.stats.start_failures == 3
    assert not src.running
    await src.close()
    await src.close()  # safe twice


def test_backoff_is_capped_and_jittered() -> None:
    import random

    delays = backoff_delays(8, 0.5, 4.0, random.Random(1))
    assert all(0.0 <= d <= min(4.0, 0.5 * 2**i) for i, d in enumerate(delays))
    assert len(set(delays)) == len(delays)


def test_invalid_bind_key_names_the_sensor() -> None:
    with pytest.raises(ValueError, match="bthome-9"):
        BleSource({BTH: cfg("bthome-9", SensorKind.BTHOME, BTH, "zz")}, lambda s: None)


async def test_scan_reports_values_and_reasons(adapters: InjectedAdapters) -> None:
    async def feed() -> None:
        while adapters.get("hci0").running == 0:
            await asyncio.sleep(0)
        hci = adapters.get("hci0")
        hci.push(RUUVI, -40, df5(3))
        hci.push(
            "AA:BB:CC:00:00:01",
            -70,
            {0x0702: emu.aranet4(None, None, None, None, 80, smart_home=False)},
        )
        hci.push("AA:BB:CC:00:00:02", -90, {0x004C: b"\x02"})

    feeder = asyncio.create_task(feed())
    results = await scan(0.05, backend=InjectedScanner)
    await feeder
    assert [r.address for r in results] == [RUUVI, "AA:BB:CC:00:00:01"]
    assert results[0].format is BleFormat.RUUVI_DF5 and results[0].values is not None
    assert results[1].values is None and results[1].reason is not None
    assert "Smart Home" in results[1].reason
