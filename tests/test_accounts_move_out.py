"""Residents' move-out on SQLite and on a real PostgreSQL: the 0002 migration upgrades a
database with data in place; a move-out ends the tenancy (kept, audited), refuses a day before
moving in, takes the resident off the flat and out of its consent; ``indeklima users
move-out`` turns a Danish day into the local midnight; the scope rules for a tenancy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from cloud.accounts import AccountError, Accounts, AuditAction, AuditQuery, Role, ScopeKind
from cloud.accounts.db import current, head, make_engine, seed_registry, upgrade
from cloud.accounts.principal import Principal, Residence
from cloud.accounts.scope import (
    in_own_period,
    overlaps_own_period,
    own_periods,
    readable_window,
)
from cloud.accounts.users import move_out_instant
from cloud.cli import main as cli_main
from tests.accounts_kit import Clock, database_url, open_accounts
from tests.test_accounts import PW, REGISTRY

JAN_1 = datetime(2025, 12, 31, 23, tzinfo=UTC)  # 2026-01-01 00:00 Danish time
MAR_1 = datetime(2026, 2, 28, 23, tzinfo=UTC)  # 2026-03-01 00:00 (CET, UTC+1)
JUL_1 = datetime(2026, 6, 30, 22, tzinfo=UTC)  # 2026-07-01 00:00 (CEST, UTC+2)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    postgres = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    return database_url(request.param, tmp_path, postgres)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 4, 15, 9, tzinfo=UTC))


@pytest.fixture
def accounts(url: str, clock: Clock) -> Iterator[Accounts]:
    accounts = open_accounts(url, REGISTRY, clock=clock, organisation="ORG1")
    yield accounts
    accounts.close()


# -- the migration ------------------------------------------------------------------------------


def test_0002_upgrades_a_0001_database_with_data_in_place(url: str) -> None:
    engine = make_engine(url)
    assert upgrade(engine, "0001_accounts") == "0001_accounts"
    seed_registry(engine, REGISTRY, organisation="ORG1")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, role, password_hash, created_at)"
                " VALUES (7, 'gammel', 'Gammel Beboer', 'resident', 'x', :at)"
            ),
            {"at": JAN_1},
        )
        conn.execute(
            text("INSERT INTO residents (user_id, flat_id, since) VALUES (7, 'B1-01', :at)"),
            {"at": JAN_1},
        )
        conn.execute(
            text(
                "INSERT INTO consents (flat_id, staff_detail, user_id, username, at)"
                " VALUES ('B1-01', true, 7, 'gammel', :at)"
            ),
            {"at": MAR_1},
        )
    assert upgrade(engine) == head() == "0002_resident_until"
    assert current(engine) == "0002_resident_until"
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, flat_id, since, until FROM residents")).all()
    ((user_id, flat_id, since, until),) = rows
    assert (user_id, flat_id, until) == (7, "B1-01", None)
    assert (since if isinstance(since, datetime) else datetime.fromisoformat(since)).replace(
        tzinfo=UTC
    ) == JAN_1.replace(tzinfo=UTC)
    accounts = Accounts(engine, clock=lambda: MAR_1 + timedelta(days=1))
    assert accounts.user("gammel").flats == ("B1-01",)
    assert accounts.consented("B1-01") is True  # the consent of a resident living there
    accounts.move_out("gammel", "B1-01", MAR_1 + timedelta(hours=1))
    assert accounts.user("gammel").moved_out == (("B1-01", MAR_1 + timedelta(hours=1)),)
    accounts.close()


def test_0002_downgrades_to_0001_keeping_the_tenancies(url: str) -> None:
    from alembic import command

    from cloud.accounts import db

    engine = make_engine(url)
    upgrade(engine)
    seed_registry(engine, REGISTRY, organisation="ORG1")
    accounts = Accounts(engine, clock=lambda: JUL_1)
    accounts.create_user("kaj", Role.RESIDENT, PW)
    accounts.add_resident("kaj", "B2-01", since=JAN_1)
    accounts.move_out("kaj", "B2-01", MAR_1)
    config = db._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001_accounts")
    assert current(engine) == "0001_accounts"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT flat_id FROM residents")).scalars().all() == ["B2-01"]
    assert upgrade(engine) == "0002_resident_until"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT until FROM residents")).scalars().all() == [None]
    accounts.close()


def test_db_current_names_the_new_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_url = f"sqlite:///{tmp_path / 'acc.db'}"
    assert upgrade(make_engine(db_url), "0001_accounts") == "0001_accounts"
    assert cli_main(["db", "current", "--db-url", db_url]) == 1
    assert capsys.readouterr().out == "0001_accounts (nyeste / newest: 0002_resident_until)\n"
    assert cli_main(["db", "upgrade", "--db-url", db_url]) == 0
    assert "0002_resident_until" in capsys.readouterr().out
    assert cli_main(["db", "current", "--db-url", db_url]) == 0
    out = capsys.readouterr().out
    assert out == "0002_resident_until (nyeste / newest: 0002_resident_until)\n"


# -- moving out -----------------------------------------------------------------------------


def test_move_out_ends_the_tenancy_and_keeps_it(accounts: Accounts, clock: Clock) -> None:
    accounts.create_user("ole", Role.RESIDENT, PW)
    accounts.add_resident("ole", "B1-01", since=JAN_1)
    accounts.create_user("admin", Role.ADMIN, PW)
    _, admin = accounts.login("admin", PW, "a")
    token, ole = accounts.login("ole", PW, "a")
    assert ole.flats == {("B1", "B1-01")}
    assert accounts.move_out("ole", "B1-01", MAR_1, by=admin, address="10.0.0.9") is None
    ole = accounts.principal_for_token(token)  # the same session: the login remains
    assert ole is not None
    assert ole.flats == frozenset()
    assert ole.residences == (Residence("B1", "B1-01", JAN_1, MAR_1),)
    assert accounts.user("ole").flats == ()
    assert accounts.user("ole").moved_out == (("B1-01", MAR_1),)
    assert accounts.residents_of("B1-01") == []
    (entry,) = accounts.audit_entries(AuditQuery(action=AuditAction.RESIDENT_MOVED_OUT))
    assert (entry.username, entry.flat_id, entry.building_id, entry.address) == (
        "admin",
        "B1-01",
        "B1",
        "10.0.0.9",
    )
    assert entry.detail == {
        "user": "ole",
        "since": JAN_1.isoformat(),
        "until": MAR_1.isoformat(),
    }
    # a correction of the date is audited with the date it replaces
    assert accounts.move_out("ole", "B1-01", JUL_1, by=admin) == MAR_1
    newest = accounts.audit_entries(AuditQuery(action=AuditAction.RESIDENT_MOVED_OUT))[0]
    assert newest.detail["previous_until"] == MAR_1.isoformat()
    # before JUL_1 (the clock is in April) Ole lives there again
    back = accounts.principal_for_token(token)
    assert back is not None and back.flats == {("B1", "B1-01")}
    clock.advance(timedelta(days=90))
    _, gone = accounts.login("ole", PW, "a")  # after the move-out the login still works
    assert gone.flats == frozenset()
    assert gone.residences == (Residence("B1", "B1-01", JAN_1, JUL_1),)


def test_move_out_refuses_what_cannot_be_right(accounts: Accounts) -> None:
    accounts.create_user("per", Role.RESIDENT, PW)
    accounts.add_resident("per", "B1-02", since=MAR_1)
    with pytest.raises(AccountError, match=r"must be after moving in \(2026-03-01, 00:00"):
        accounts.move_out("per", "B1-02", JAN_1)
    with pytest.raises(AccountError, match="skal ligge efter indflytningen"):
        accounts.move_out("per", "B1-02", MAR_1)  # an empty tenancy
    with pytest.raises(AccountError, match="not a resident of flat 'B1-01'"):
        accounts.move_out("per", "B1-01", JUL_1)
    with pytest.raises(AccountError, match="no time zone"):
        accounts.move_out("per", "B1-02", datetime(2026, 7, 1))  # noqa: DTZ001 (the point)
    with pytest.raises(AccountError, match="does not exist"):
        accounts.move_out("nobody", "B1-02", JUL_1)
    assert accounts.user("per").moved_out == ()
    accounts.move_out("per", "B1-02", JUL_1)
    with pytest.raises(AccountError, match="moving in again needs a new account"):
        accounts.add_resident("per", "B1-02")
    assert accounts.user("per").moved_out == (("B1-02", JUL_1),)


def test_a_moved_out_residents_consent_no_longer_counts(accounts: Accounts, clock: Clock) -> None:
    for name in ("ane", "bo"):
        accounts.create_user(name, Role.RESIDENT, PW)
        accounts.add_resident(name, "B2-01", since=JAN_1)
    accounts.create_user("tek", Role.TECHNICIAN, PW)
    accounts.assign("tek", ScopeKind.BUILDING, "B2")
    _, ane = accounts.login("ane", PW, "a")
    _, bo = accounts.login("bo", PW, "a")
    accounts.set_consent(bo, "B2-01", False)
    clock.advance(timedelta(minutes=1))
    accounts.set_consent(ane, "B2-01", True)
    assert accounts.consented("B2-01") is True
    accounts.move_out("ane", "B2-01", clock.now)
    assert accounts.consented("B2-01") is False  # Bo's own choice counts again
    assert accounts.consent("B2-01").by == "bo"
    accounts.move_out("bo", "B2-01", clock.now)
    assert accounts.consent("B2-01").at is None  # nobody living there has chosen
    assert [c.by for c in accounts.consent_history("B2-01")] == ["bo", "ane"]  # all kept
    accounts.create_user("cai", Role.RESIDENT, PW)
    accounts.add_resident("cai", "B2-01", since=clock.now)
    _, cai = accounts.login("cai", PW, "a")
    with pytest.raises(PermissionError):
        accounts.set_consent(ane, "B2-01", True)  # no longer theirs to give
    accounts.set_consent(cai, "B2-01", True)
    assert accounts.consented("B2-01") is True


# -- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "instant"),
    [
        ("2026-03-01", MAR_1),  # winter time: 23:00 UTC the day before
        ("2026-07-01", JUL_1),  # summer time: 22:00 UTC
        ("2026-03-29", datetime(2026, 3, 28, 23, tzinfo=UTC)),  # the day clocks go forward
        ("2026-10-26", datetime(2026, 10, 25, 23, tzinfo=UTC)),  # the day after they go back
    ],
)
def test_a_move_out_day_is_danish_midnight(day: str, instant: datetime) -> None:
    assert move_out_instant(day) == instant


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("1/3/2026", "not a date in the form YYYY-MM-DD"),
        ("2026-02-30", "not a date in the form YYYY-MM-DD"),
        ("2026-03-01T12:00", "not a date in the form YYYY-MM-DD"),
        ("", "not a date in the form YYYY-MM-DD"),
        ("1999-12-31", "must be in the years 2000-2099"),
    ],
)
def test_a_move_out_day_that_is_not_a_day_is_refused(typed: str, reason: str) -> None:
    with pytest.raises(AccountError, match=reason):
        move_out_instant(typed)


def test_users_move_out_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'acc.db'}"
    accounts = open_accounts(db_url, REGISTRY)
    accounts.create_user("lise", Role.RESIDENT, PW)
    accounts.add_resident("lise", "B1-02", since=JAN_1)
    base = ["users", "move-out", "lise", "--flat", "B1-02", "--db-url", db_url]
    assert cli_main([*base, "--date", "2025-12-31"]) == 2
    err = capsys.readouterr().err
    assert "fejl / error: fraflytningen (2025-12-31) skal ligge efter indflytningen" in err
    assert "the move-out (2025-12-31) must be after moving in (2026-01-01, 00:00" in err
    assert cli_main([*base, "--date", "1.3.2026"]) == 2
    assert "ÅÅÅÅ-MM-DD" in capsys.readouterr().err
    wrong_flat = ["users", "move-out", "lise", "--flat", "B2-01", "--date", "2026-03-01"]
    assert cli_main([*wrong_flat, "--db-url", db_url]) == 2
    assert "is not a resident of flat 'B2-01'" in capsys.readouterr().err
    assert accounts.user("lise").flats == ("B1-02",)  # nothing changed by the refusals
    assert cli_main([*base, "--date", "2026-03-01"]) == 0
    out = capsys.readouterr().out
    assert out == (
        "lise flytter ud af / moves out of B1-02: 2026-03-01 00:00 dansk tid / Danish time "
        "(2026-02-28T23:00:00+00:00)\n"
    )
    assert accounts.user("lise").moved_out == (("B1-02", MAR_1),)
    assert cli_main(["users", "list", "--db-url", db_url]) == 0
    listing = capsys.readouterr().out
    assert "lise\tresident\tflat:B1-02(til/until 2026-03-01)\t" in listing
    (entry,) = accounts.audit_entries(AuditQuery(action=AuditAction.RESIDENT_MOVED_OUT))
    assert entry.detail["until"] == MAR_1.isoformat()
    accounts.close()


# -- the scope rules for a tenancy ------------------------------------------------------------


def _resident(*residences: Residence, now: datetime) -> Principal:
    return Principal(
        user_id=1,
        username="r",
        display_name="R",
        role=Role.RESIDENT,
        flats=frozenset((r.building, r.flat) for r in residences if r.current(now)),
        buildings=frozenset(),
        organisations=frozenset(),
        residences=tuple(sorted(residences)),
    )


NOW = datetime(2026, 4, 15, tzinfo=UTC)


def day(n: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n - 1)


WINDOWS = {
    "before moving in: nothing (an empty window at the move-in)": (
        (day(50), None),
        (day(10), day(20)),
        (day(50), day(50)),
    ),
    "straddling the move-in: from the move-in": (
        (day(50), None),
        (day(40), day(60)),
        (day(50), day(60)),
    ),
    "inside the tenancy: unchanged": ((day(50), None), (day(60), day(70)), (day(60), day(70))),
    "straddling a future move-out: up to it": (
        (day(50), day(120)),
        (day(110), day(130)),
        (day(110), day(120)),
    ),
}


@pytest.mark.parametrize(("tenancy", "asked", "got"), WINDOWS.values(), ids=WINDOWS)
def test_readable_window_clips_a_resident_to_the_tenancy(
    tenancy: tuple[datetime, datetime | None],
    asked: tuple[datetime, datetime],
    got: tuple[datetime, datetime],
) -> None:
    who = _resident(Residence("B1", "F1", *tenancy), now=NOW)
    assert readable_window(who, "F1", *asked) == got


def test_readable_window_leaves_staff_alone_and_never_widens() -> None:
    tech = Principal(2, "t", "T", Role.TECHNICIAN, frozenset(), frozenset({"B1"}), frozenset())
    assert readable_window(tech, "F1", day(1), day(5)) == (day(1), day(5))
    stranger = _resident(Residence("B1", "F2", day(1)), now=NOW)
    assert readable_window(stranger, "F1", day(1), day(5)) == (day(1), day(1))


def test_own_periods_cover_current_and_former_tenancies_up_to_now() -> None:
    who = _resident(
        Residence("B1", "F1", day(1), day(40)),  # moved out
        Residence("B2", "F9", day(40)),  # living there
        Residence("B2", "F8", day(200)),  # not moved in yet
        now=NOW,
    )
    assert own_periods(who, NOW) == [
        Residence("B1", "F1", day(1), day(40)),
        Residence("B2", "F9", day(40), NOW),
    ]
    tech = Principal(2, "t", "T", Role.TECHNICIAN, frozenset(), frozenset({"B1"}), frozenset())
    assert own_periods(tech, NOW) == []
    former = Residence("B1", "F1", day(1), day(40))
    assert [in_own_period(former, day(n)) for n in (0, 1, 39, 40)] == [False, True, True, False]
    assert in_own_period(former, None) is False
    assert overlaps_own_period(former, day(30), day(60)) is True
    assert overlaps_own_period(former, day(40), day(60)) is False  # starts at the move-out
    assert overlaps_own_period(Residence("B1", "F1", day(50), None), day(1), day(50)) is False
