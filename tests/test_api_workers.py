"""``indeklima api --workers N``: several processes on one port, each with the settings of the one
command line (store, registry, accounts database), stopped by one SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
import requests

from cloud.accounts import Role
from cloud.registry import Registry
from cloud.servers import free_port
from cloud.store.rollup import refresh_rollups
from cloud.store.sqlite import SqliteStore
from tests.accounts_kit import open_accounts
from tests.api_kit import REGISTRY, fill_store

JAN: Final = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD: Final = "a long enough password"


def workers(pid: int) -> list[int]:
    """The worker processes among the children of `pid` (Linux /proc; not multiprocessing's
    resource tracker)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in command:
                found.append(int(child))
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    registry_path = tmp_path / "registry.toml"
    registry_path.write_text(REGISTRY, encoding="utf-8")
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    accounts_url = f"sqlite:///{tmp_path / 'accounts.db'}"
    accounts = open_accounts(accounts_url, registry)  # indeklima db upgrade
    accounts.create_user("res1", Role.RESIDENT, PASSWORD)
    accounts.add_resident("res1", "B1-01")
    accounts.close()
    with SqliteStore(tmp_path / "store.sqlite") as store:
        fill_store(store, "B1")
        refresh_rollups(store, "B1", JAN, JAN + timedelta(days=31))
    port = free_port()
    env = {
        **os.environ,
        "INDEKLIMA_API_ACCOUNTS_URL": accounts_url,
        "INDEKLIMA_API_ALERTS_URL": f"sqlite:///{tmp_path / 'alerts.sqlite'}",
        "INDEKLIMA_API_RUNS_URL": f"sqlite:///{tmp_path / 'runs.db'}",
    }
    command = [sys.executable, "-m", "cloud.cli", "api", "--workers", "2", "--port", str(port)]
    command += ["--registry", str(registry_path), "--sqlite", str(tmp_path / "store.sqlite")]
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if requests.get(url + "/api/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the workers did not start in 60 s"
            time.sleep(0.2)
        yield url, accounts_url, server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        if server.stderr:
            server.stderr.close()


def test_two_workers_serve_the_same_answers_and_stop_on_sigterm(
    served: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    url, _, server = served
    assert len(workers(server.pid)) == 2
    login = requests.post(
        url + "/api/token", data={"username": "res1", "password": PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    month = {"start": JAN.isoformat(), "end": (JAN + timedelta(days=30)).isoformat()}
    with requests.Session() as one, requests.Session() as other:  # two connections
        answers = [
            s.get(url + "/api/flats/B1-01/climate", params=month, headers=headers, timeout=30)
            for _ in range(5)
            for s in (one, other)
        ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["resolution"] == "hourly"
    not_mine = requests.get(url + "/api/flats/B1-02/climate", headers=headers, timeout=30)
    assert not_mine.status_code == 404
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0
    assert server.stderr is not None
    log = server.stderr.read().decode()
    assert "GET /api/flats/B1-01/climate 200" in log and "user=res1" in log  # the access log


def test_window_control_is_refused_with_several_workers(tmp_path: Path) -> None:
    from cloud.cli import main

    registry = tmp_path / "registry.toml"
    registry.write_text(REGISTRY, encoding="utf-8")
    args = ["api", "--workers", "2", "--registry", str(registry)]
    args += ["--sqlite", str(tmp_path / "store.sqlite"), "--control-mqtt-url", "mqtt://x:1883"]
    assert main(args) == 2
    assert main([*args[:2], "0", *args[3:5]]) == 2


@pytest.mark.parametrize("threads", ["0", "1001", "many"])
def test_a_thread_count_out_of_range_stops_the_api_at_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    threads: str,
) -> None:
    from cloud.cli import main

    registry = tmp_path / "registry.toml"
    registry.write_text(REGISTRY, encoding="utf-8")
    monkeypatch.setenv("INDEKLIMA_API_THREADS", threads)
    args = ["api", "--registry", str(registry), "--sqlite", str(tmp_path / "store.sqlite")]
    assert main(args) == 2
    assert "threads" in capsys.readouterr().err
