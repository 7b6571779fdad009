"""firmware_sim BLE emulators: exact published bytes, and encode → decode round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.sensors.ble import Decoded, DecodeError, DecodeReason, RawAdvert, decode
from firmware_sim.devices import ble as emu

MAC = "CB:B8:33:4C:88:4F"
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")


@pytest.mark.parametrize(
    ("encoded", "published"),
    [
        pytest.param(
            emu.ruuvi_df5(
                24.3, 53.49, 1000.44, 2977, 205, MAC, movement=66, acceleration_mg=(4, -4, 1036)
            ),
            "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",
            id="ruuvi-df5-docs.ruuvi.com-valid",
        ),
        pytest.param(
            emu.bthome_v2(
                {"temperature_c": 25.06, "humidity_pct": 50.55},
                bind_key=KEY,
                mac="54:48:E6:8F:80:A5",
                counter=0x00112233,
            ),
            "41e445f3c9962b332211006c7c4519",
            id="bthome-bthome.io-encryption-example",
        ),
        pytest.param(
            emu.pvvx(22.2, 52.78, 100, 2976, 136, "A4:C1:38:8C:41:93", flags=4),
            "93418c38c1a4ac089e14a00b648804",
            id="pvvx-btsensor-vector",
        ),
        pytest.param(
            emu.aranet4(None, None, None, None, 0, smart_home=False, version=(1, 2, 0)),
            "01000201000000",
            id="aranet4-no-integrations-aranet4-tests",
        ),
    ],
)
def test_emulator_reproduces_published_bytes(encoded: bytes, published: str) -> None:
    assert encoded.hex() == published.lower()


def _decode_mfr(company: int, data: bytes) -> Decoded:
    result = decode(RawAdvert(MAC, manufacturer_data={company: data}))
    assert isinstance(result, Decoded), result
    return result


temps = st.floats(-40, 85)
hums = st.floats(0, 100)
press = st.floats(870, 1085)


@settings(max_examples=60, deadline=None)
@given(t=temps, rh=hums, p=press, mv=st.integers(1800, 3600), seq=st.integers(0, 65534))
def test_ruuvi_df5_round_trip(t: float, rh: float, p: float, mv: int, seq: int) -> None:
    d = _decode_mfr(0x0499, emu.ruuvi_df5(t, rh, p, mv, seq, MAC))
    v = d.values
    assert v.temperature_c == pytest.approx(t, abs=0.0076)  # 0.005 step + library's 0.01 rounding
    assert v.humidity_pct == pytest.approx(rh, abs=0.0063)
    assert v.pressure_hpa == pytest.approx(p, abs=0.006)
    assert v.battery_mv == mv
    assert d.sequence == seq


@settings(max_examples=60, deadline=None)
@given(
    t=temps,
    rh=hums,
    p=press,
    co2=st.integers(400, 5000),
    pm=st.floats(0, 500),
    voc=st.integers(1, 500),
    nox=st.integers(1, 500),
    seq=st.integers(0, 2**24 - 2),
)
def test_ruuvi_e1_and_df6_round_trip(t, rh, p, co2, pm, voc, nox, seq) -> None:
    e1 = _decode_mfr(
        0x0499,
        emu.ruuvi_e1(t, rh, p, co2, (pm, pm, pm, pm), seq, MAC, voc_index=voc, nox_index=nox),
    )
    df6 = _decode_mfr(
        0x0499, emu.ruuvi_df6(t, rh, p, co2, pm, seq, MAC, voc_index=voc, nox_index=nox)
    )
    for d in (e1, df6):
        assert d.values.co2_ppm == co2
        assert d.values.pm25_ugm3 == pytest.approx(pm, abs=0.051)
        assert (d.values.voc_index, d.values.nox_index) == (voc, nox)
        assert d.values.temperature_c == pytest.approx(t, abs=0.0076)
    assert e1.sequence == seq and df6.sequence == seq & 0xFF


@settings(max_examples=60, deadline=None)
@given(
    co2=st.integers(400, 9999),
    t=st.floats(0, 50),
    rh=st.integers(0, 100),
    p=press,
    batt=st.integers(0, 100),
)
def test_aranet4_round_trip(co2: int, t: float, rh: int, p: float, batt: int) -> None:
    v = _decode_mfr(0x0702, emu.aranet4(co2, t, rh, p, batt)).values
    assert (v.co2_ppm, v.humidity_pct, v.battery_pct) == (co2, rh, batt)
    assert v.temperature_c == pytest.approx(t, abs=0.076)  # 0.05 step + rounding to 0.1
    assert v.pressure_hpa == pytest.approx(p, abs=0.051)


def test_aranet4_invalid_readings_are_none() -> None:
    v = _decode_mfr(0x0702, emu.aranet4(None, None, 40, None, 5)).values
    assert (v.co2_ppm, v.temperature_c, v.pressure_hpa, v.battery_pct) == (None, None, None, 5)


@settings(max_examples=60, deadline=None)
@given(
    t=temps,
    rh=hums,
    co2=st.integers(0, 65535),
    pid=st.integers(0, 255),
    counter=st.integers(0, 2**32 - 1),
    encrypted=st.booleans(),
)
def test_bthome_round_trip(
    t: float, rh: float, co2: int, pid: int, counter: int, encrypted: bool
) -> None:
    key = KEY if encrypted else None
    data = emu.bthome_v2(
        {"temperature_c": t, "humidity_pct": rh, "co2_ppm": co2},
        packet_id=pid,
        bind_key=key,
        mac=MAC,
        counter=counter,
    )
    result = decode(RawAdvert(MAC, service_data={emu.BTHOME_UUID: data}), key)
    assert isinstance(result, Decoded)
    assert result.values.temperature_c == pytest.approx(t, abs=0.0051)
    assert result.values.humidity_pct == pytest.approx(rh, abs=0.0051)
    assert result.values.co2_ppm == co2
    assert result.sequence == pid


@settings(max_examples=60, deadline=None)
@given(
    t=st.floats(-40, 60),
    rh=st.floats(0, 99),
    pct=st.integers(0, 100),
    mv=st.integers(2000, 3300),
    ctr=st.integers(0, 255),
)
def test_atc_and_pvvx_round_trip(t: float, rh: float, pct: int, mv: int, ctr: int) -> None:
    for data, t_res, rh_res in (
        (emu.atc1441(t, rh, pct, mv, ctr, MAC), 0.051, 0.51),
        (emu.pvvx(t, rh, pct, mv, ctr, MAC), 0.0051, 0.0051),
    ):
        result = decode(RawAdvert(MAC, service_data={emu.ENV_SENSING_UUID: data}))
        assert isinstance(result, Decoded)
        assert result.values.temperature_c == pytest.approx(t, abs=t_res)
        assert result.values.humidity_pct == pytest.approx(rh, abs=rh_res)
        assert (result.values.battery_pct, result.values.battery_mv, result.sequence) == (
            pct,
            mv,
            ctr,
        )


def test_low_battery_and_not_available_faults() -> None:
    v = _decode_mfr(0x0499, emu.ruuvi_df5(None, None, None, 1900, None, MAC)).values
    assert (v.temperature_c, v.humidity_pct, v.pressure_hpa, v.battery_mv) == (
        None,
        None,
        None,
        1900,
    )


def test_smart_home_off_emulated() -> None:
    result = decode(
        RawAdvert(
            MAC, manufacturer_data={0x0702: emu.aranet4(800, 21, 40, 1000, 90, smart_home=False)}
        )
    )
    assert isinstance(result, DecodeError) and result.reason is DecodeReason.SMART_HOME_OFF


def test_silent_device_sends_nothing() -> None:
    class Sink:
        def __init__(self) -> None:
            self.got: list[str] = []

        def push(
            self, address, rssi=None, manufacturer_data=None, service_data=None, local_name=None
        ) -> int:
            self.got.append(address)
            return 1

    sink = Sink()
    dev = emu.BleAdvertiser(
        MAC, manufacturer_data={0x0499: emu.ruuvi_df5(20, 40, 1000, 3000, 1, MAC)}
    )
    assert dev.advertise(sink)
    dev.silent = True
    assert not dev.advertise(sink)
    assert sink.got == [MAC]
