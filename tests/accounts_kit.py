"""Helpers for the accounts tests: a database per backend, a clock to move, a cheap hasher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from cloud.accounts import Accounts, LoginPolicy
from cloud.accounts.db import make_engine, seed_registry, upgrade
from cloud.accounts.passwords import Passwords
from cloud.registry import Registry

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id with tiny costs: the same code path, quick enough for many logins in tests."""


@dataclass
class Clock:
    now: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def database_url(backend: str, tmp_path: Path, postgres: object, prefix: str = "indeklima") -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'accounts.db'}"
    from tests.postgres import PostgresCluster

    assert isinstance(postgres, PostgresCluster)
    return postgres.database(prefix)


def accounts_url(request: pytest.FixtureRequest, folder: Path, prefix: str = "indeklima") -> str:
    """The accounts database of a fixture parametrised over "sqlite" and "postgresql": a file
    in `folder`, or a new database on the session's real PostgreSQL cluster."""
    backend = str(request.param)
    postgres = request.getfixturevalue("postgres") if backend == "postgresql" else None
    return database_url(backend, folder, postgres, prefix)


def open_accounts(
    url: str,
    registry: Registry | None = None,
    *,
    clock: Clock | None = None,
    policy: LoginPolicy | None = None,
    organisation: str | None = "ORG1",
) -> Accounts:
    engine = make_engine(url)
    upgrade(engine)
    if registry is not None:
        seed_registry(engine, registry, organisation=organisation)
    return Accounts(engine, policy=policy, passwords=Passwords(CHEAP), clock=clock)
