"""The scanner the gateway starts, checked against bleak's REAL BlueZ backend classes (their
constructors need no adapter), and the injected test backend held to the same refusals
(DESIGN.md "Fakes at the hardware boundary")."""

from __future__ import annotations

import asyncio
import logging

import pytest
from bleak import BleakScanner
from bleak.args.bluez import OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends import BleakBackend
from bleak.backends.bluezdbus.scanner import BleakScannerBlueZDBus
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from edge.config import SensorConfig, SensorKind
from edge.sensors.ble.injected import InjectedAdapters, InjectedScanner
from edge.sensors.ble.scanning import KIND_PATTERNS, or_patterns, scanner_kwargs
from edge.sensors.ble.source import AdapterError, BleSource
from edge.sensors.model import Sample
from firmware_sim.devices import ble as emu

pytestmark = pytest.mark.anyio
BLE_KINDS = [SensorKind.RUUVI, SensorKind.ARANET4, SensorKind.BTHOME, SensorKind.XIAOMI_ATC]
RUUVI = "C4:7C:8D:6A:01:02"
ATC = "A4:C1:38:00:00:01"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def adapters(monkeypatch: pytest.MonkeyPatch) -> InjectedAdapters:
    registry = InjectedAdapters()
    monkeypatch.setattr(InjectedScanner, "registry", registry)
    return registry


def cfg(sid: str, kind: SensorKind, address: str) -> SensorConfig:
    return SensorConfig(id=sid, kind=kind, building="B1", flat="F1", room="r", address=address)


def test_patterns_are_the_kinds_company_ids_and_service_uuids_little_endian() -> None:
    mfr, svc16 = (
        AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA,
        AdvertisementDataType.SERVICE_DATA_UUID16,
    )
    assert or_patterns(BLE_KINDS) == [
        OrPattern(0, svc16, b"\x1a\x18"),  # 0x181A: ATC / pvvx
        OrPattern(0, svc16, b"\xd2\xfc"),  # 0xFCD2: BTHome v2
        OrPattern(0, mfr, b"\x02\x07"),  # 0x0702: Aranet
        OrPattern(0, mfr, b"\x99\x04"),  # 0x0499: Ruuvi
    ]
    assert or_patterns([SensorKind.RUUVI, SensorKind.RUUVI, SensorKind.SCD30]) == [
        OrPattern(0, mfr, b"\x99\x04")
    ]


@pytest.mark.parametrize("mode", ["passive", "active"])
@pytest.mark.parametrize(
    "kinds", [[k] for k in BLE_KINDS] + [BLE_KINDS], ids=lambda k: "+".join(map(str, k))
)
def test_real_bluez_backend_takes_exactly_the_gateway_arguments(
    mode: str, kinds: list[SensorKind]
) -> None:
    kwargs = scanner_kwargs("hci0", mode, kinds)  # type: ignore[arg-type]
    scanner = BleakScanner(lambda d, a: None, backend=BleakScannerBlueZDBus, **kwargs)
    backend = scanner._backend
    assert isinstance(backend, BleakScannerBlueZDBus)
    assert backend._scanning_mode == mode
    assert backend._adapter == "hci0"
    if mode == "passive":
        assert backend._or_patterns == or_patterns(kinds)
    # the injected backend accepts the same arguments
    BleakScanner(lambda d, a: None, backend=InjectedScanner, **kwargs)


def test_the_gateway_source_builds_its_scanner_on_the_platform_backend_bluez() -> None:
    """BleSource without a backend: bleak picks BlueZ on Linux; construction must succeed with
    the arguments the gateway really passes (the bug: passive without or_patterns)."""
    devices = {
        RUUVI: cfg("r1", SensorKind.RUUVI, RUUVI),
        ATC: cfg("a1", SensorKind.XIAOMI_ATC, ATC),
    }
    source = BleSource(devices, lambda s: None)
    scanner = source._new_scanner("passive")
    assert scanner.backend_id is BleakBackend.BLUEZ_DBUS
    assert scanner._backend._or_patterns == or_patterns([SensorKind.RUUVI, SensorKind.XIAOMI_ATC])


@pytest.mark.parametrize("backend", [BleakScannerBlueZDBus, InjectedScanner])
def test_both_backends_refuse_passive_scanning_without_patterns(
    backend: type[BaseBleakScanner],
) -> None:
    with pytest.raises(BleakError, match="passive scanning mode requires bluez or_patterns"):
        BleakScanner(lambda d, a: None, scanning_mode="passive", bluez={"adapter": "hci0"},
                     backend=backend)  # fmt: skip


@pytest.mark.parametrize(
    "patterns",
    [
        pytest.param(
            [OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"")], id="empty"
        ),
        pytest.param(
            [OrPattern(20, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"x" * 12)],
            id="past-31",
        ),
        pytest.param(
            [
                OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, bytes([n, 0]))
                for n in range(17)
            ],
            id="17-patterns",
        ),
    ],
)
async def test_injected_backend_refuses_patterns_bluez_refuses(
    adapters: InjectedAdapters, patterns: list[OrPattern]
) -> None:
    scanner = BleakScanner(lambda d, a: None, scanning_mode="passive",
                           bluez={"adapter": "p0", "or_patterns": patterns},
                           backend=InjectedScanner)  # fmt: skip
    with pytest.raises(BleakError):
        await scanner.start()


async def test_passive_scan_hears_only_the_configured_kinds(adapters: InjectedAdapters) -> None:
    samples: list[Sample] = []
    devices = {
        RUUVI: cfg("r1", SensorKind.RUUVI, RUUVI),
        ATC: cfg("a1", SensorKind.XIAOMI_ATC, ATC),
    }
    source = BleSource(devices, samples.append, backend=InjectedScanner, adapter="p1")
    async with source:
        hci = adapters.get("p1")
        assert hci.modes == ["passive"]
        assert (
            hci.push(RUUVI, -60, {0x0499: emu.ruuvi_df5(21.0, 45.0, 1012.0, 2900, 1, RUUVI)}) == 1
        )
        assert (
            hci.push(
                ATC,
                -60,
                service_data={emu.ENV_SENSING_UUID: emu.pvvx(21.5, 40.0, 80, 2950, 1, ATC)},
            )
            == 1
        )
        aranet = {0x0702: emu.aranet4(800, 21.0, 40, 1000.0, 90)}
        assert hci.push("D0:1F:00:00:0A:09", -60, aranet) == 0  # no Aranet configured: filtered
        for _ in range(5):
            await asyncio.sleep(0)
    assert [s.device for s in samples] == [RUUVI, ATC]


async def test_bluez_without_the_monitor_api_falls_back_to_active_and_says_why(
    adapters: InjectedAdapters, caplog: pytest.LogCaptureFixture
) -> None:
    adapters.get("old").passive_supported = False
    source = BleSource({RUUVI: cfg("r1", SensorKind.RUUVI, RUUVI)}, lambda s: None,
                       backend=InjectedScanner, adapter="old")  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="edge.sensors.ble.source"):
        async with source:
            assert source.mode == "active"
            assert adapters.get("old").modes == ["active"]
            await source.restart()  # once known, passive is not tried again
            assert adapters.get("old").modes == ["active", "active"]
    text = caplog.text
    assert "scanning actively" in text and "BlueZ >= 5.56" in text and "Experimental = true" in text
    assert source.stats.start_failures == 0


async def test_passive_only_refuses_a_bluez_without_the_monitor_api(
    adapters: InjectedAdapters,
) -> None:
    adapters.get("old2").passive_supported = False
    source = BleSource({RUUVI: cfg("r1", SensorKind.RUUVI, RUUVI)}, lambda s: None,
                       backend=InjectedScanner, adapter="old2", scanning="passive")  # fmt: skip
    with pytest.raises(AdapterError, match="Experimental = true"):
        await source.start()
    assert adapters.get("old2").modes == []


async def test_scan_of_a_missing_adapter_says_not_found(adapters: InjectedAdapters) -> None:
    adapters.get("gone").present = False
    source = BleSource({RUUVI: cfg("r1", SensorKind.RUUVI, RUUVI)}, lambda s: None,
                       backend=InjectedScanner, adapter="gone", start_attempts=2,
                       backoff_initial_s=0.0, backoff_max_s=0.0)  # fmt: skip
    with pytest.raises(AdapterError) as info:
        await source.start()
    assert "not found" in info.value.reason and "bluetoothctl list" in info.value.reason


def test_kind_patterns_cover_every_ble_kind() -> None:
    assert set(KIND_PATTERNS) == set(BLE_KINDS)


@pytest.mark.parametrize(
    ("version", "parsed", "hint"),
    [
        ("5.55", (5, 55), "too old"),
        ("5.56", (5, 56), "switched off"),
        ("5.66", (5, 66), "switched off"),
        (None, None, "version unknown"),
        ("garbage", None, "switched off"),
    ],
)
def test_bluez_versions_and_what_passive_scanning_needs(
    version: str | None, parsed: tuple[int, int] | None, hint: str
) -> None:
    from edge.sensors.ble.scanning import parse_version, passive_hint

    assert parse_version(version) == parsed
    da, en = passive_hint(version)
    assert hint in en and "Experimental = true" in en and "Linux >= 5.10" in en
    assert "Experimental = true" in da


async def test_a_bluez_too_old_for_passive_is_checked_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The real backend: BlueZ's version is read first (``bluetoothctl --version``); 5.55 is
    never asked for passive scanning — refused in "passive", logged and active in "auto"."""
    import edge.sensors.ble.source as source_module

    async def old() -> str:
        return "5.55"

    monkeypatch.setattr(source_module, "bluez_version", old)
    devices = {RUUVI: cfg("r1", SensorKind.RUUVI, RUUVI)}
    strict = BleSource(devices, lambda s: None, adapter="hci97", scanning="passive")
    with pytest.raises(AdapterError, match=r"BlueZ 5\.55 is too old"):
        await strict.start()
    assert strict.stats.start_failures == 0  # refused before any D-Bus call
    auto = BleSource(devices, lambda s: None, adapter="hci97", start_attempts=1)
    with caplog.at_level(logging.WARNING), pytest.raises(AdapterError):
        await auto.start()  # no D-Bus/adapter here: unavailable, but it tried actively
    assert auto.mode is None and not auto._passive_ok
    assert "scanning actively instead of passively: BlueZ 5.55 is too old" in caplog.text


def test_bleaks_advertisement_monitor_hands_bluez_our_patterns_as_dbus_a_yyay() -> None:
    """What BlueZ reads from the monitor bleak exports (its ``Patterns`` property, D-Bus type
    ``a(yyay)``): our patterns, valid for that type, each within one 31-byte AD field."""
    from bleak.backends.bluezdbus.advertisement_monitor import AdvertisementMonitor
    from dbus_fast import Variant

    monitor = AdvertisementMonitor(or_patterns(BLE_KINDS))
    assert monitor.Type == "or_patterns"
    wire = Variant("a(yyay)", monitor.Patterns)  # dbus-fast checks the value against the type
    assert [(s, int(t), bytes(c)) for s, t, c in wire.value] == [
        (0, 0x16, b"\x1a\x18"),
        (0, 0x16, b"\xd2\xfc"),
        (0, 0xFF, b"\x02\x07"),
        (0, 0xFF, b"\x99\x04"),
    ]
    assert all(len(c) > 0 and s + len(c) <= 31 for s, _, c in wire.value)
