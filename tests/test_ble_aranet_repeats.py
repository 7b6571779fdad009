"""Aranet4 adverts repeat one measurement for minutes and carry no sequence number; their age
field tells repeats from new measurements."""

from __future__ import annotations

import asyncio

import pytest

from edge.config import SensorConfig, SensorKind
from edge.sensors.ble.injected import InjectedAdapters, InjectedScanner
from edge.sensors.ble.source import BleSource
from edge.sensors.model import Sample
from firmware_sim.devices import ble as emu

ARANET = "D0:1F:00:00:0A:01"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def advert(co2: int, ago_s: int) -> dict[int, bytes]:
    return {0x0702: emu.aranet4(co2, 21.0, 40, 1000.0, 90, interval_s=300, ago_s=ago_s)}


async def test_repeats_of_one_measurement_are_one_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    adapters = InjectedAdapters()
    monkeypatch.setattr(InjectedScanner, "registry", adapters)
    config = SensorConfig(
        id="a1", kind=SensorKind.ARANET4, building="B1", flat="F1", room="living", address=ARANET
    )
    samples: list[Sample] = []
    async with BleSource(
        {ARANET: config}, samples.append, backend=InjectedScanner, adapter="sim-a"
    ) as source:
        for co2, ago in [(800, 40), (800, 40), (800, 41), (812, 0), (812, 1)]:
            adapters.get("sim-a").push(ARANET, -70, advert(co2, ago))
            for _ in range(5):
                await asyncio.sleep(0)
        assert [(s.values.co2_ppm, s.age_s) for s in samples] == [(800, 40.0), (812, 0.0)]
        assert source.stats.devices[ARANET].duplicates == 3
