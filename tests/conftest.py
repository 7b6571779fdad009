"""Shared fixtures: real Mosquitto and InfluxDB servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.servers import InfluxServer, MosquittoServer


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    with MosquittoServer(tmp_path / "mosquitto") as server:
        yield server


@pytest.fixture(scope="module")
def influx_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path_factory.mktemp("influx")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A private PostgreSQL cluster (tests/postgres.py); skipped only when it cannot run here."""
    from tests.postgres import PostgresUnavailable, postgres_cluster

    try:
        with postgres_cluster() as cluster:
            yield cluster
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot run here: {exc}")
