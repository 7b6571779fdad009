"""InfluxDB with authentication, on a real ``influxd`` (Debian influxdb) started with
``auth-enabled = true``, set up by the real ``indeklima influx-setup`` command: anonymous access
is refused, the read user cannot write, the write user (ingest) can, nobody but the admin can
drop, and the default retention policy is the bookkeeping one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from cloud.influx_setup import JOBS, KEEP_DAYS, KEEP_POLICY, READER, WRITER
from cloud.servers import InfluxServer
from cloud.store.base import CLIMATE, StoreUnavailable
from cloud.store.open import open_store
from edge.wire import Reading

ROOT = Path(__file__).resolve().parent.parent
PASSWORDS = {"admin": "adm-pw'\\x", "writer": "wr-pw", "reader": "rd-pw", "jobs": "jb-pw"}


def _setup(server: InfluxServer, secrets: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cloud.cli", "influx-setup", "--influx-url", server.url,
         "--secrets", str(secrets)],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    folder = tmp_path_factory.mktemp("influx-auth")
    secrets = folder / "secrets"
    secrets.mkdir()
    for name, password in PASSWORDS.items():
        (secrets / f"influx_{name}_password").write_text(password + "\n")
    with InfluxServer(folder / "server", auth=True) as server:
        first = _setup(server, secrets)
        assert first.returncode == 0, first.stderr
        again = _setup(server, secrets)  # idempotent
        assert again.returncode == 0, again.stderr
        yield server


def _q(server: InfluxServer, q: str, user: str | None = None) -> requests.Response:
    auth = None if user is None else (user, PASSWORDS[user.removeprefix("indeklima-")])
    return requests.post(f"{server.url}/query", data={"q": q, "db": "indeklima"}, auth=auth)


READING = Reading(
    time_ms=1_767_225_600_000,
    building="B1",
    flat="F1",
    room="stue",
    sensor="s1",
    values={"temperature_c": 21.5},
)


@pytest.mark.servers
def test_anonymous_is_refused(secured: InfluxServer) -> None:
    assert _q(secured, "SHOW DATABASES").status_code == 401
    write = requests.post(f"{secured.url}/write", params={"db": "indeklima"}, data="m v=1")
    assert write.status_code == 401


@pytest.mark.servers
def test_writer_writes_reader_reads_and_cannot_write(secured: InfluxServer) -> None:
    writer = open_store(
        influx_url=secured.url, influx_user=WRITER, influx_password=PASSWORDS["writer"]
    )
    writer.write_readings([READING])
    writer.close()
    reader = open_store(
        influx_url=secured.url, influx_user=READER, influx_password=PASSWORDS["reader"]
    )
    try:
        frame = reader.query(
            CLIMATE, datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        )
        assert list(frame["temperature_c"]) == [21.5]
        with pytest.raises(StoreUnavailable, match="refused the credentials"):
            reader.write_readings([READING])
    finally:
        reader.close()
    jobs = open_store(influx_url=secured.url, influx_user=JOBS, influx_password=PASSWORDS["jobs"])
    try:  # the jobs read readings and write their results
        assert (
            len(
                jobs.query(
                    CLIMATE, datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
                )
            )
            == 1
        )
        jobs.write_readings([READING])
    finally:
        jobs.close()
    writer = open_store(
        influx_url=secured.url, influx_user=WRITER, influx_password=PASSWORDS["writer"]
    )
    try:  # ingest only writes
        with pytest.raises(StoreUnavailable, match="refused the credentials"):
            writer.query(
                CLIMATE, datetime(2025, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
            )
    finally:
        writer.close()
    assert "error" in _q(secured, 'DROP DATABASE "indeklima"', WRITER).text
    assert "error" in _q(secured, 'DROP DATABASE "indeklima"', JOBS).text
    assert "error" in _q(secured, 'DROP DATABASE "indeklima"', READER).text


@pytest.mark.servers
def test_default_retention_is_the_bookkeeping_policy(secured: InfluxServer) -> None:
    result = _q(secured, 'SHOW RETENTION POLICIES ON "indeklima"', "indeklima-admin").json()
    rows = result["results"][0]["series"][0]["values"]
    default = [row for row in rows if row[-1] is True]
    assert default[0][0] == KEEP_POLICY
    assert default[0][1] == f"{KEEP_DAYS * 24}h0m0s"


def test_wrong_admin_password_says_what_to_do(secured: InfluxServer, tmp_path: Path) -> None:
    for name in PASSWORDS:
        (tmp_path / f"influx_{name}_password").write_text("wrong")
    result = _setup(secured, tmp_path)
    assert result.returncode == 2
    assert "influx_admin_password" in result.stderr and "Traceback" not in result.stderr
