"""Serial drivers against the device emulators over a real pty: values, faults, buses, shutdown.

The emulators (firmware_sim/devices/serial_responders.py) put the real bytes on one end of an
``os.openpty()`` pair; the gateway's `SerialPoller` opens the other end with pyserial.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import pytest

from edge.config import SensorConfig
from edge.sensors.health import PlausibilityChecker
from edge.sensors.model import Sample, SensorValues
from edge.sensors.serial import SerialPoller, group_by_port
from edge.sensors.serial.poller import RateLimitedLog
from firmware_sim.devices.serial_faults import Fault, FaultSwitch
from firmware_sim.devices.serial_pty import PtyResponder
from firmware_sim.devices.serial_responders import (
    Mhz19bResponder,
    ModbusResponder,
    Scd30Emulator,
    SenseairS8Emulator,
)

TRUE_VALUES = {"co2_ppm": 612.0, "temperature_c": 21.5, "humidity_pct": 45.25}
TIMEOUT_S = 0.1


def true_values() -> dict[str, float]:
    return dict(TRUE_VALUES)


def sensor(kind: str, port: str, address: int | None = None, **extra: object) -> SensorConfig:
    return SensorConfig.parse(
        {
            "id": f"{kind}-{address}",
            "kind": kind,
            "building": "B1",
            "flat": "A-12",
            "room": "stue",
            "port": port,
            "modbus_address": address,
            **extra,
        }
    )


@dataclass
class Rig:
    responder: PtyResponder
    faults: FaultSwitch
    config: SensorConfig
    expected: SensorValues


@contextlib.contextmanager
def rig(kind: str) -> Iterator[Rig]:
    if kind == "scd30":
        scd30 = Scd30Emulator(true_values)
        with ModbusResponder([scd30]) as bus:
            yield Rig(bus, scd30.faults, sensor(kind, bus.port, 0x61), SensorValues(**TRUE_VALUES))
    elif kind == "senseair_s8":
        s8 = SenseairS8Emulator(true_values, address=0x68)
        with ModbusResponder([s8]) as bus:
            yield Rig(bus, s8.faults, sensor(kind, bus.port), SensorValues(co2_ppm=612.0))
    else:
        with Mhz19bResponder(true_values) as mhz:
            yield Rig(mhz, mhz.faults, sensor(kind, mhz.port), SensorValues(co2_ppm=612.0))


KINDS = ["scd30", "senseair_s8", "mhz19b"]


def run(coroutine_fn: Callable[[], object]) -> None:
    asyncio.run(coroutine_fn())  # type: ignore[arg-type]


def poller(configs: list[SensorConfig], samples: list[Sample], **kw: object) -> SerialPoller:
    options: dict[str, object] = {"response_timeout_s": TIMEOUT_S, "autopoll": False} | kw
    return SerialPoller(configs, samples.append, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_reads_true_values(kind):
    samples: list[Sample] = []

    async def scenario():
        with rig(kind) as r:
            async with poller([r.config], samples) as p:
                assert await p.poll_once() == [Sample(r.config.device, r.expected)]
                assert p.stats[r.config.device].ok >= 1

    run(scenario)
    assert len(samples) == 1


FAULT_STAT = {
    Fault.CRC_ERROR: "crc_errors",
    Fault.HALF_FRAME: "bad_frames",
    Fault.WRONG_ADDRESS: "wrong_address",
    Fault.SILENCE: "timeouts",
}
CASES = [
    pytest.param(kind, fault, stat, id=f"{kind}-{fault}")
    for kind in KINDS
    for fault, stat in FAULT_STAT.items()
]


def _stat_for(kind: str, fault: Fault, stat: str) -> str:
    # The MH-Z19B has no bus address: its "wrong address" fault answers another command.
    return "bad_frames" if kind == "mhz19b" and fault is Fault.WRONG_ADDRESS else stat


@pytest.mark.parametrize(("kind", "fault", "stat"), CASES)
def test_one_line_fault_is_counted_and_retried(kind, fault, stat):
    async def scenario():
        with rig(kind) as r:
            async with poller([r.config], []) as p:
                r.faults.inject(fault, times=1)
                assert await p.poll_once() == [Sample(r.config.device, r.expected)]
                stats = p.stats[r.config.device].as_dict()
                assert stats[_stat_for(kind, fault, stat)] == 1
                assert stats["retries"] == 1
                assert stats["failed"] == 0

    run(scenario)


@pytest.mark.parametrize(("kind", "fault", "stat"), CASES)
def test_persistent_fault_fails_the_poll_then_recovers(kind, fault, stat):
    async def scenario():
        with rig(kind) as r:
            async with poller([r.config], [], retries=1) as p:
                r.faults.inject(fault, times=None)
                assert await p.poll_once() == []
                stats = p.stats[r.config.device]
                assert stats.as_dict()[_stat_for(kind, fault, stat)] == 2
                assert (stats.retries, stats.failed) == (1, 1)
                r.faults.clear()
                assert await p.poll_once() == [Sample(r.config.device, r.expected)]

    run(scenario)


@pytest.mark.parametrize("kind", ["scd30", "senseair_s8"])
def test_invalid_values_are_counted_not_delivered(kind):
    async def scenario():
        with rig(kind) as r:
            async with poller([r.config], []) as p:
                r.faults.inject(Fault.INVALID_VALUES)
                assert await p.poll_once() == []
                assert p.stats[r.config.device].invalid_values == 1
                assert await p.poll_once() == [Sample(r.config.device, r.expected)]

    run(scenario)


def test_mhz19b_invalid_value_is_delivered_and_flagged_by_plausibility():
    async def scenario():
        with rig("mhz19b") as r:
            async with poller([r.config], []) as p:
                r.faults.inject(Fault.INVALID_VALUES)
                (sample,) = await p.poll_once()
        assert sample.values.co2_ppm == 65535
        flags = PlausibilityChecker().check(
            sample.device, datetime(2026, 1, 15, 12, 0, tzinfo=UTC), sample.values.quantities()
        )
        assert flags == ("out_of_range:co2_ppm",)

    run(scenario)


def test_scd30_is_started_before_it_is_read():
    scd30 = Scd30Emulator(true_values)

    async def scenario():
        with ModbusResponder([scd30]) as bus:
            async with poller([sensor("scd30", bus.port)], []) as p:
                assert not scd30.measuring
                assert len(await p.poll_once()) == 1

    run(scenario)
    assert scd30.measuring


def test_two_sensors_on_one_bus_share_one_connection():
    scd30 = Scd30Emulator(true_values)
    s8 = SenseairS8Emulator(lambda: {"co2_ppm": 840.0}, address=0x68)
    samples: list[Sample] = []

    async def scenario():
        with ModbusResponder([scd30, s8]) as bus:
            configs = [
                sensor("scd30", bus.port, 0x61, baudrate=9600),
                sensor("senseair_s8", bus.port, 0x68, baudrate=9600),
            ]
            assert list(group_by_port(configs)) == [bus.port]
            async with poller(configs, samples) as p:
                s8.faults.inject(Fault.WRONG_ADDRESS)
                got = await p.poll_once()
                assert [s.device for s in got] == [c.device for c in configs]
                assert got[1].values == SensorValues(co2_ppm=840.0)
                assert open_fds_to(bus.port) == 2  # the emulator's own end + the one connection
                assert p.stats[configs[0].device].retries == 0
                assert p.stats[configs[1].device].wrong_address == 1

    run(scenario)
    assert len(samples) == 2


def open_fds_to(path: str) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}") == path
    return count


def test_missing_port_is_counted_never_raised():
    async def scenario():
        config = sensor("senseair_s8", "/dev/does-not-exist-ttyUSB9")
        async with poller([config], []) as p:
            assert await p.poll_once() == []
            stats = p.stats[config.device]
            assert (stats.port_errors, stats.retries, stats.failed) == (3, 2, 1)

    run(scenario)


def test_a_failing_on_sample_callback_does_not_stop_polling():
    def explode(sample: Sample) -> None:
        raise RuntimeError("downstream is broken")

    async def scenario():
        with rig("senseair_s8") as r:
            async with SerialPoller([r.config], explode, autopoll=False) as p:
                assert len(await p.poll_once()) == 1
                assert len(await p.poll_once()) == 1

    run(scenario)


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("serial-poller")]


def test_background_polling_and_shutdown_leave_nothing_behind():
    samples: list[Sample] = []

    async def scenario():
        enough = asyncio.Event()

        def on_sample(sample: Sample) -> None:
            samples.append(sample)
            if len(samples) >= 5:
                enough.set()

        with rig("scd30") as r:
            config = msgspec.structs.replace(r.config, poll_interval_s=0.02)
            p = SerialPoller([config], on_sample, response_timeout_s=TIMEOUT_S)
            async with p:
                r.faults.inject(Fault.SILENCE, times=2)  # the loop rides over faults
                await asyncio.wait_for(enough.wait(), timeout=20)
                assert poller_threads()
            await p.aclose()  # a second close is harmless
            assert asyncio.all_tasks() == {asyncio.current_task()}
        assert not r.responder.alive

    run(scenario)
    assert not poller_threads()
    assert {s.values for s in samples} == {SensorValues(**TRUE_VALUES)}


def test_socket_url_works(tmp_path):
    """``socket://host:port`` through socat's TCP-to-pty bridge (Debian ``socat``)."""
    import shutil
    import socket
    import subprocess

    socat = shutil.which("socat")
    if socat is None:
        pytest.skip("Debian package socat is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        tcp_port = probe.getsockname()[1]

    async def scenario(url: str):
        async with poller([sensor("mhz19b", url)], [], response_timeout_s=1.0) as p:
            for _attempt in range(100):  # until socat listens
                if got := await p.poll_once():
                    break
                await asyncio.sleep(0.05)
            assert got[0].values == SensorValues(co2_ppm=612.0)

    with Mhz19bResponder(true_values) as mhz:
        bridge = subprocess.Popen(
            [socat, f"TCP-LISTEN:{tcp_port},bind=127.0.0.1,reuseaddr", f"FILE:{mhz.port},raw"],
            stderr=subprocess.DEVNULL,
        )
        try:
            asyncio.run(scenario(f"socket://127.0.0.1:{tcp_port}"))
        finally:
            bridge.terminate()
            bridge.wait(timeout=10)


def test_socket_line_reset_by_the_peer_leaks_no_socket():
    """A ``socket://`` peer that resets every connection (RST): pyserial's close() then skips
    closing the socket (shutdown() fails first) and a failed open() leaves it connected; the
    poller closes it either way. A leaked socket is a ResourceWarning, an error here."""
    import gc
    import socket
    import struct

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    resets = []

    def reset_everyone() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            time.sleep(0.02)  # let the poller send its request first, sometimes
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # linger 0: the peer gets a reset, not a FIN
            resets.append(1)

    async def scenario(url: str):
        async with poller([sensor("mhz19b", url)], [], response_timeout_s=0.1) as p:
            for _ in range(6):
                assert await p.poll_once() == []

    thread = threading.Thread(target=reset_everyone)
    thread.start()
    try:
        port = server.getsockname()[1]
        asyncio.run(scenario(f"socket://127.0.0.1:{port}"))
    finally:
        stop.set()
        thread.join(5)
        server.close()
    assert len(resets) >= 3
    gc.collect()  # a dropped, unclosed socket warns now, inside this test


BAD_BUSES = {
    "no sensors": ([], "at least one"),
    "two ports": (
        [sensor("scd30", "/dev/ttyUSB0"), sensor("senseair_s8", "/dev/ttyUSB1")],
        "one SerialPoller per port",
    ),
    "mixed baud": (
        [sensor("scd30", "/dev/ttyUSB0"), sensor("senseair_s8", "/dev/ttyUSB0", 0x68)],
        "one baud rate",
    ),
    "mh-z19b on a shared bus": (
        [sensor("mhz19b", "/dev/ttyUSB0"), sensor("senseair_s8", "/dev/ttyUSB0", 0x68)],
        "no bus address",
    ),
    "distinct addresses": (
        [sensor("senseair_s8", "/dev/ttyUSB0", 0x68), sensor("senseair_s8", "/dev/ttyUSB0")],
        None,
    ),
}


@pytest.mark.parametrize(("configs", "message"), BAD_BUSES.values(), ids=BAD_BUSES)
def test_bad_bus_configurations_are_refused_with_a_reason(configs, message):
    if message is None:  # distinct addresses: accepted
        SerialPoller(configs, print)
        return
    with pytest.raises(ValueError, match=message):
        SerialPoller(configs, print)


def test_duplicate_address_is_refused():
    configs = [
        sensor("senseair_s8", "/dev/ttyUSB0", 0x68),
        msgspec.structs.replace(sensor("senseair_s8", "/dev/ttyUSB0", 0x68), id="other"),
    ]
    with pytest.raises(ValueError, match="share a Modbus address"):
        SerialPoller(configs, print)


def test_rate_limited_log_says_how_many_were_hidden(caplog):
    now = [0.0]
    limiter = RateLimitedLog(interval_s=60.0, clock=lambda: now[0])
    logged = []
    for t in (0.0, 1.0, 59.0, 60.0, 61.0):
        now[0] = t
        logged.append(limiter.warning(("dev", "timeouts"), "no answer"))
    assert logged == [True, False, False, True, False]
    assert "2 similar suppressed" in caplog.records[-1].getMessage()


def test_shutdown_in_the_middle_of_an_exchange_closes_the_port():
    async def scenario():
        with rig("senseair_s8") as r:
            r.faults.inject(Fault.SILENCE, times=None)  # every exchange waits for its timeout
            async with SerialPoller([r.config], print, response_timeout_s=0.5) as p:
                await asyncio.sleep(0.1)  # the poll loop is now in a blocking read
                assert p.stats[r.config.device].ok == 0
            assert open_fds_to(r.config.port) == 1  # only the emulator's own end is left
            assert asyncio.all_tasks() == {asyncio.current_task()}

    run(scenario)
    assert not poller_threads()
