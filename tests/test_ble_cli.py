"""`indeklima decode`: one JSON object out, exit 2 with a Danish-then-English message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cloud import cli

DF5 = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"


@pytest.fixture
def decode_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the decode subcommand, so unfinished sibling modules cannot break this test."""
    monkeypatch.setattr(cli, "SUBCOMMANDS", {"decode": cli.SUBCOMMANDS["decode"]})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            ["--manufacturer-id", "0x0499", DF5],
            {
                "format": "ruuvi_df5",
                "temperature_c": 24.3,
                "humidity_pct": 53.49,
                "pressure_hpa": 1000.44,
                "battery_mv": 2977.0,
                "co2_ppm": None,
                "sequence": 205,
            },
            id="ruuvi-hex-id",
        ),
        pytest.param(
            ["--manufacturer-id", "1177", DF5], {"format": "ruuvi_df5"}, id="ruuvi-decimal-id"
        ),
        pytest.param(
            [
                "--service-uuid",
                "fcd2",
                "41e445f3c9962b332211006c7c4519",
                "--bind-key",
                "231d39c1d7cc1ab1aee224cd096db932",
                "--address",
                "54:48:e6:8f:80:a5",
            ],
            {"format": "bthome_v2", "temperature_c": 25.06, "humidity_pct": 50.55},
            id="bthome-encrypted",
        ),
        pytest.param(
            ["--service-uuid", "0x181A", "93418c38c1a4ac089e14a00b648804"],
            {"format": "pvvx", "temperature_c": 22.2},
            id="pvvx-short-uuid",
        ),
        pytest.param(
            ["--service-uuid", "0000fcd2-0000-1000-8000-00805f9b34fb", "4002ca0903bf13"],
            {"format": "bthome_v2", "temperature_c": 25.06},
            id="bthome-128bit-uuid",
        ),
    ],
)
def test_decode_prints_json(
    decode_only, capsys, argv: list[str], expected: dict[str, object]
) -> None:
    assert cli.main(["decode", *argv]) == 0
    out = json.loads(capsys.readouterr().out)
    for key, value in expected.items():
        assert out[key] == value


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        pytest.param(
            ["--manufacturer-id", "0x0702", "01000201000000", "--address", "AA:BB:CC:DD:EE:FF"],
            "Smart Home integrations",
            id="aranet-smart-home-off",
        ),
        pytest.param(["--manufacturer-id", "0x0499", "0512"], "truncated", id="truncated"),
        pytest.param(
            ["--service-uuid", "fcd2", "4002ca0903bf13", "--bind-key", "00" * 16],
            "plaintext_with_key",
            id="keyed-plaintext",
        ),
        pytest.param(
            ["--service-uuid", "fcd2", "4002ca09", "--bind-key", "abc"], "bind", id="bad-key"
        ),
    ],
)
def test_undecodable_exits_2(decode_only, capsys, argv: list[str], reason: str) -> None:
    assert cli.main(["decode", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fejl:")
    assert reason in err


def test_bad_arguments_are_usage_errors(decode_only) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["decode", "--manufacturer-id", "ruuvi", DF5])
    assert exc.value.code == 2


def test_subprocess_round_trip() -> None:
    code = (
        "import sys; from cloud import cli; "
        "cli.SUBCOMMANDS = {'decode': cli.SUBCOMMANDS['decode']}; "
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "decode", "--manufacturer-id", "0x0499", DF5],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["temperature_c"] == 24.3
