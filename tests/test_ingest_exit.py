"""``indeklima ingest`` exits 1 when one of its workers fails (through the command's own code:
`cloud.cli.main`), so that systemd or Docker restarts it; what it held goes back to the broker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import cloud.store.open
from cloud.cli import main
from cloud.servers import MosquittoServer
from cloud.store.sqlite import SqliteStore
from edge.mqtt import MqttConnection
from edge.wire import readings_topic
from tests.test_ingest_bad_input import REGISTRY, batch, reading


class BrokenStore(SqliteStore):
    """A real SQLite store with a bug: every write raises something that is not a store error."""

    def write_readings(self, readings: object, gateways: object = None) -> None:
        raise RuntimeError("a bug in the store")


@pytest.mark.servers
def test_ingest_command_exits_1_when_a_worker_fails(
    tmp_path: Path, mosquitto: MosquittoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = tmp_path / "registry.json"
    REGISTRY.dump_json(registry)
    monkeypatch.setattr(
        cloud.store.open, "store_from_args", lambda _args: BrokenStore(tmp_path / "s.sqlite")
    )
    codes: list[int] = []
    command = threading.Thread(
        target=lambda: codes.append(
            main(
                [
                    "ingest", "--mqtt-url", mosquitto.url, "--client-id", "exit-test",
                    "--registry", str(registry), "--dead-letters", str(tmp_path / "d.sqlite"),
                    "--sqlite", str(tmp_path / "unused.sqlite"),
                ]
            )
        )
    )  # fmt: skip
    # the command runs in a thread here, and only the main thread may install signal handlers
    monkeypatch.setattr("signal.signal", lambda *_: None)
    command.start()
    try:
        with MqttConnection(mosquitto.url, "gw-a") as gateway:
            assert gateway.wait_connected(10)
            deadline = time.monotonic() + 30
            while command.is_alive() and time.monotonic() < deadline:
                gateway.publish(readings_topic("gw-a"), batch([reading(0)]), qos=1)
                command.join(0.5)
    finally:
        command.join(30)
    assert not command.is_alive(), "ingest did not stop after its worker failed"
    assert codes == [1]
