"""The accounts database: engine, Alembic upgrade (configured in code, no ``alembic.ini``), and
seeding buildings and flats from the registry.

``upgrade(url)`` brings any SQLAlchemy URL (``sqlite:///accounts.db``,
``postgresql+psycopg://user@host/db``) to the newest schema; ``seed_registry`` adds or renames
buildings and flats from a `Registry` (it never deletes: flats with history stay).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session

from cloud.accounts.models import BuildingRow, FlatRow, Organisation
from cloud.registry import Registry
from edge.sqlite_wal import enable_wal

DEFAULT_URL: Final = "sqlite:///accounts.db"
VERSION_TABLE: Final = "accounts_alembic_version"
MIGRATIONS: Final = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is not at the newest schema; run ``indeklima db upgrade``."""


def make_engine(url: str) -> Engine:
    """An engine for the accounts database (SQLite: foreign keys on, a busy timeout)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            enable_wal(dbapi_connection)

        return engine
    return create_engine(url, pool_pre_ping=True)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision shipped."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate to `revision` (default the newest); returns the revision now current."""
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    now = current(engine)
    assert now is not None
    return now


def require_current(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is at the newest schema."""
    found, wanted = current(engine), head()
    if found != wanted:
        raise SchemaOutOfDate(
            f"kontodatabasen er på version {found or 'ingen / none'}, ikke {wanted}: kør "
            f"`indeklima db upgrade --db-url URL` / the accounts database is at revision "
            f"{found or 'none'}, not {wanted}: run `indeklima db upgrade --db-url URL`"
        )


@dataclass(frozen=True, slots=True)
class SeedReport:
    buildings_added: int
    flats_added: int
    flats_moved: tuple[str, ...]


def seed_registry(
    engine: Engine, registry: Registry, organisation: str | None = None
) -> SeedReport:
    """Add the registry's buildings and flats (and the organisation, if named and new).

    Flat ids must be unique across buildings (the API addresses a flat by its id): a flat id
    that appears in two buildings is refused with `ValueError` before anything is written."""
    seen: dict[str, str] = {}
    for building in registry.buildings:
        for flat in building.flats:
            if flat.id in seen and seen[flat.id] != building.id:
                raise ValueError(
                    f"lejlighed {flat.id} står i både {seen[flat.id]} og {building.id}; "
                    f"lejlighedsnumre skal være entydige / flat {flat.id} is in both "
                    f"{seen[flat.id]} and {building.id}; flat ids must be unique"
                )
            seen[flat.id] = building.id
    added_b = added_f = 0
    moved: list[str] = []
    with Session(engine) as session, session.begin():
        if organisation is not None and session.get(Organisation, organisation) is None:
            session.add(Organisation(id=organisation, name=organisation))
            session.flush()
        for building in registry.buildings:
            row = session.get(BuildingRow, building.id)
            if row is None:
                session.add(
                    BuildingRow(
                        id=building.id,
                        name=building.name or building.id,
                        organisation_id=organisation,
                    )
                )
                added_b += 1
            else:
                row.name = building.name or building.id
                if organisation is not None:
                    row.organisation_id = organisation
        session.flush()
        known = {f.id: f for f in session.scalars(select(FlatRow))}
        for flat_id, building_id in seen.items():
            existing = known.get(flat_id)
            if existing is None:
                session.add(FlatRow(id=flat_id, building_id=building_id))
                added_f += 1
            elif existing.building_id != building_id:
                existing.building_id = building_id
                moved.append(flat_id)
    return SeedReport(added_b, added_f, tuple(moved))
