"""Accounts on SQLite and on a real PostgreSQL: migrations, login and lock-out, sessions and
their revocation, scopes in the principal, consent history, the append-only audit trail, and the
``indeklima db`` / ``indeklima users`` commands."""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cloud.accounts import (
    AccountError,
    Accounts,
    AuditAction,
    AuditQuery,
    LockedOut,
    LoginFailed,
    LoginPolicy,
    Role,
    ScopeKind,
)
from cloud.accounts.db import VERSION_TABLE, current, head, make_engine, seed_registry, upgrade
from cloud.accounts.models import Base, SessionRow
from cloud.accounts.passwords import PasswordRejected
from cloud.cli import main as cli_main
from cloud.registry import Registry
from tests.accounts_kit import Clock, database_url, open_accounts

REGISTRY = Registry.model_validate(
    tomllib.loads(
        """
[[buildings]]
id = "B1"
name = "Blok 1"
[[buildings.flats]]
id = "B1-01"
area_m2 = 60.0
[[buildings.flats]]
id = "B1-02"
area_m2 = 60.0
[[buildings]]
id = "B2"
[[buildings.flats]]
id = "B2-01"
area_m2 = 50.0
"""
    )
)
PW = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    postgres = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    return database_url(request.param, tmp_path, postgres)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(url: str, clock: Clock) -> Iterator[Accounts]:
    accounts = open_accounts(url, REGISTRY, clock=clock, organisation=None)
    yield accounts
    accounts.close()


# -- schema -----------------------------------------------------------------------------------


def test_migrations_make_exactly_the_models_schema_and_are_idempotent(url: str) -> None:
    engine = make_engine(url)
    assert current(engine) is None
    assert upgrade(engine) == head()
    assert upgrade(engine) == head()  # again: nothing to do
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    engine.dispose()


def test_seeding_adds_buildings_and_flats_once_and_refuses_ambiguous_flat_ids(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    first = seed_registry(engine, REGISTRY, organisation="ORG1")
    again = seed_registry(engine, REGISTRY, organisation="ORG1")
    assert (first.buildings_added, first.flats_added) == (2, 3)
    assert (again.buildings_added, again.flats_added) == (0, 0)
    clash = Registry.model_validate(
        {
            "buildings": [
                {"id": "B3", "flats": [{"id": "X-1", "area_m2": 40}]},
                {"id": "B4", "flats": [{"id": "X-1", "area_m2": 40}]},
            ]
        }
    )
    with pytest.raises(ValueError, match="entydige / flat X-1 is in both B3 and B4"):
        seed_registry(engine, clash)
    accounts = Accounts(engine)
    assert accounts.flats() == [("B1", "B1-01"), ("B1", "B1-02"), ("B2", "B2-01")]
    assert accounts.building_of("B2-01") == "B2"
    assert accounts.building_of("B9-99") is None
    accounts.close()


# -- login, sessions --------------------------------------------------------------------------


def test_login_gives_a_token_stored_only_as_its_hash(accounts: Accounts) -> None:
    accounts.create_user("Alice", Role.FINANCE, PW, display_name="Alice Andersen")
    token, principal = accounts.login("ALICE ", PW, "10.0.0.1")
    assert principal.username == "alice"
    assert principal.display_name == "Alice Andersen"
    assert principal.role is Role.FINANCE
    assert accounts.principal_for_token(token) == principal
    assert accounts.principal_for_token(token + "x") is None
    assert accounts.principal_for_token("") is None
    assert accounts.principal_for_token("not a token; DROP TABLE users") is None
    with accounts.engine.connect() as conn:
        stored = conn.execute(select(SessionRow.token_sha256)).scalars().all()
        dump = " ".join(str(row) for row in conn.execute(text("SELECT * FROM sessions")))
    assert len(stored) == 1 and len(stored[0]) == 64
    assert token not in dump


def test_wrong_password_and_unknown_user_fail_alike(accounts: Accounts) -> None:
    accounts.create_user("bob", Role.TECHNICIAN, PW)
    with pytest.raises(LoginFailed) as wrong:
        accounts.login("bob", PW + "!", "10.0.0.2")
    with pytest.raises(LoginFailed) as unknown:
        accounts.login("nobody", PW, "10.0.0.2")
    assert str(wrong.value) == str(unknown.value)
    assert "wrong username or password" in str(wrong.value)
    assert not isinstance(wrong.value, LockedOut)


def test_five_failures_lock_the_user_until_the_window_passes(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.create_user("carl", Role.FINANCE, PW)
    first = clock.now
    for attempt in range(4):
        with pytest.raises(LoginFailed) as caught:
            accounts.login("carl", f"wrong-{attempt}-password", "10.0.0.3")
        assert not isinstance(caught.value, LockedOut)
        clock.advance(timedelta(minutes=1))
    with pytest.raises(LockedOut) as locked:
        accounts.login("carl", "wrong-4-password", "10.0.0.4")
    assert locked.value.locked_until == first + timedelta(minutes=15)
    assert "spærret til 2026-03-02 10:15 (dansk tid)" in str(locked.value)
    assert "locked until 2026-03-02 09:15 UTC" in str(locked.value)
    with pytest.raises(LockedOut):  # the right password does not help while locked
        accounts.login("carl", PW, "10.0.0.5")
    clock.now = first + timedelta(minutes=15, seconds=1)
    token, _ = accounts.login("carl", PW, "10.0.0.5")
    assert accounts.principal_for_token(token) is not None
    # a success clears the count: one more failure does not lock again
    with pytest.raises(LoginFailed) as after:
        accounts.login("carl", "wrong-again-password", "10.0.0.5")
    assert not isinstance(after.value, LockedOut)
    actions = [e.action for e in accounts.audit_entries(AuditQuery(username="carl"))]
    assert actions.count(AuditAction.LOGIN_FAILED) == 6
    assert actions.count(AuditAction.LOCKED_OUT) == 1
    assert actions.count(AuditAction.LOGIN) == 1


def test_many_failures_from_one_address_lock_that_address(url: str, clock: Clock) -> None:
    policy = LoginPolicy(address_failures=6)
    accounts = open_accounts(url, REGISTRY, clock=clock, policy=policy)
    accounts.create_user("dora", Role.TECHNICIAN, PW)
    for n in range(5):
        with pytest.raises(LoginFailed):
            accounts.login(f"guess{n}", "not-the-password", "192.0.2.9")
    with pytest.raises(LockedOut):
        accounts.login("guess5", "not-the-password", "192.0.2.9")
    with pytest.raises(LockedOut):
        accounts.login("dora", PW, "192.0.2.9")
    token, _ = accounts.login("dora", PW, "192.0.2.10")  # another address is not locked
    assert token
    accounts.close()


def test_sessions_expire_and_end_at_logout_password_change_and_disable(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.create_user("eva", Role.TECHNICIAN, PW)
    token, _ = accounts.login("eva", PW, "a")
    clock.advance(accounts.policy.session_ttl - timedelta(seconds=1))
    assert accounts.principal_for_token(token) is not None
    clock.advance(timedelta(seconds=1))
    assert accounts.principal_for_token(token) is None  # expired

    token, _ = accounts.login("eva", PW, "a")
    assert accounts.logout(token) is True
    assert accounts.principal_for_token(token) is None
    assert accounts.logout(token) is False

    one, _ = accounts.login("eva", PW, "a")
    two, _ = accounts.login("eva", PW, "b")
    assert accounts.set_password("eva", "a brand new password") == 2
    assert accounts.principal_for_token(one) is None
    assert accounts.principal_for_token(two) is None
    with pytest.raises(LoginFailed):
        accounts.login("eva", PW, "a")

    token, _ = accounts.login("eva", "a brand new password", "a")
    accounts.set_disabled("eva")
    assert accounts.principal_for_token(token) is None
    with pytest.raises(LoginFailed, match="disabled"):
        accounts.login("eva", "a brand new password", "a")
    accounts.set_disabled("eva", False)
    assert accounts.login("eva", "a brand new password", "a")[0]


@pytest.mark.parametrize(
    ("password", "says"),
    [
        pytest.param("short", "mindst 10", id="too-short"),
        pytest.param("x" * 257, "højst have 256", id="too-long"),
        pytest.param("frank.user", "brugernavnet", id="the-username"),
    ],
)
def test_bad_passwords_are_refused(accounts: Accounts, password: str, says: str) -> None:
    with pytest.raises(PasswordRejected, match=says):
        accounts.create_user("frank.user", Role.ADMIN, password)


def test_bad_and_duplicate_usernames_are_refused(accounts: Accounts) -> None:
    accounts.create_user("gerd", Role.ADMIN, PW)
    with pytest.raises(AccountError, match="findes allerede"):
        accounts.create_user("GERD", Role.ADMIN, PW)
    with pytest.raises(AccountError, match="ugyldigt"):
        accounts.create_user("g e r d", Role.ADMIN, PW)


def test_password_checks_are_bounded_and_refused_when_all_turns_are_taken() -> None:
    from cloud.accounts.passwords import HasherBusy, Passwords
    from tests.accounts_kit import CHEAP

    passwords = Passwords(CHEAP, max_parallel=1, wait_s=0.05)
    stored = passwords.hash(PW)
    assert passwords.verify(stored, PW)
    passwords._turns.acquire()  # another login is hashing
    try:
        with pytest.raises(HasherBusy, match="try again shortly"):
            passwords.verify(stored, PW)
    finally:
        passwords._turns.release()
    assert passwords.verify(stored, PW) and not passwords.verify(stored, PW + "x")
    assert not passwords.verify(None, PW)  # unknown user: the dummy check, never a match


# -- scopes -----------------------------------------------------------------------------------


def test_the_principal_carries_the_scope(url: str, clock: Clock) -> None:
    accounts = open_accounts(url, REGISTRY, clock=clock, organisation="ORG1")
    accounts.create_user("res", Role.RESIDENT, PW)
    accounts.add_resident("res", "B1-02")
    accounts.create_user("tech", Role.TECHNICIAN, PW)
    accounts.assign("tech", ScopeKind.BUILDING, "B2")
    accounts.create_user("fin", Role.FINANCE, PW)
    accounts.assign("fin", ScopeKind.ORGANISATION, "ORG1")
    _, res = accounts.login("res", PW, "a")
    _, tech = accounts.login("tech", PW, "a")
    _, fin = accounts.login("fin", PW, "a")
    assert (res.flats, res.buildings) == (frozenset({("B1", "B1-02")}), frozenset())
    assert (tech.flats, tech.buildings) == (frozenset(), frozenset({"B2"}))
    assert fin.buildings == frozenset({"B1", "B2"})
    assert fin.organisations == frozenset({"ORG1"})
    with pytest.raises(AccountError, match="technician cannot be given a organisation"):
        accounts.assign("tech", ScopeKind.ORGANISATION, "ORG1")
    with pytest.raises(AccountError, match="does not exist"):
        accounts.assign("tech", ScopeKind.BUILDING, "B9")
    with pytest.raises(AccountError, match="not a resident"):
        accounts.add_resident("tech", "B1-01")
    with pytest.raises(AccountError, match="does not exist"):
        accounts.add_resident("res", "B9-01")
    assert accounts.unassign("tech", ScopeKind.BUILDING, "B2") is True
    assert accounts.user("tech").scopes == ()
    assert accounts.residents_of("B1-02") == ["res"]
    accounts.close()


# -- consent and audit ------------------------------------------------------------------------


def test_consent_has_a_history_and_only_the_resident_changes_it(
    accounts: Accounts, clock: Clock
) -> None:
    accounts.create_user("hanne", Role.RESIDENT, PW)
    accounts.add_resident("hanne", "B1-01")
    accounts.create_user("tech2", Role.TECHNICIAN, PW)
    accounts.assign("tech2", ScopeKind.BUILDING, "B1")
    _, hanne = accounts.login("hanne", PW, "a")
    _, tech = accounts.login("tech2", PW, "a")
    assert accounts.consented("B1-01") is False
    assert accounts.consent("B1-01").at is None
    accounts.set_consent(hanne, "B1-01", True, address="198.51.100.7")
    assert accounts.consented("B1-01") is True
    clock.advance(timedelta(days=1))
    withdrawn = accounts.set_consent(hanne, "B1-01", False)
    assert (withdrawn.staff_detail, withdrawn.by, withdrawn.at) == (False, "hanne", clock.now)
    assert accounts.consented("B1-01") is False
    assert [c.staff_detail for c in accounts.consent_history("B1-01")] == [True, False]
    with pytest.raises(PermissionError):
        accounts.set_consent(tech, "B1-01", True)
    with pytest.raises(PermissionError):
        accounts.set_consent(hanne, "B1-02", True)
    entries = accounts.audit_entries(AuditQuery(flat_id="B1-01"))
    assert [e.action for e in entries][:2] == ["consent.withdrawn", "consent.granted"]
    assert entries[1].address == "198.51.100.7"
    assert entries[1].username == "hanne"


@pytest.mark.parametrize("table", ["audit_log", "consents"])
def test_the_database_refuses_to_change_the_history(accounts: Accounts, table: str) -> None:
    accounts.create_user("ivan", Role.RESIDENT, PW)
    accounts.add_resident("ivan", "B2-01")
    _, ivan = accounts.login("ivan", PW, "a")
    accounts.set_consent(ivan, "B2-01", True)
    column = "action" if table == "audit_log" else "username"
    for statement in (f"UPDATE {table} SET {column} = 'forged'", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), accounts.engine.begin() as conn:
            conn.execute(text(statement))
    assert accounts.consented("B2-01") is True


def test_audit_entries_can_be_filtered(accounts: Accounts, clock: Clock) -> None:
    accounts.create_user("jens", Role.TECHNICIAN, PW)
    start = clock.now
    accounts.audit(None, AuditAction.DETAIL_READ, flat_id="B1-01", detail={"n": 1})
    clock.advance(timedelta(hours=1))
    accounts.audit(None, AuditAction.DETAIL_READ, flat_id="B1-02")
    found = accounts.audit_entries(AuditQuery(action="flat.detail_read"))
    assert [e.flat_id for e in found] == ["B1-02", "B1-01"]
    assert found[1].detail == {"n": 1}
    window = AuditQuery(action="flat.detail_read", until=start + timedelta(minutes=1))
    assert [e.flat_id for e in accounts.audit_entries(window)] == ["B1-01"]
    (created,) = accounts.audit_entries(AuditQuery(action="user.created"))
    assert created.detail == {"user": "jens", "role": "technician"}


# -- the commands -----------------------------------------------------------------------------


def test_db_and_users_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'acc.db'}"
    registry = tmp_path / "registry.json"
    REGISTRY.dump_json(registry)
    assert cli_main(["users", "list", "--db-url", db_url]) == 2
    assert "indeklima db upgrade" in capsys.readouterr().err
    assert cli_main(["db", "upgrade", "--db-url", db_url, "--registry", str(registry)]) == 0
    assert "flats added: 3" in capsys.readouterr().out
    assert cli_main(["db", "current", "--db-url", db_url]) == 0

    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    add = ["users", "add", "kim", "--role", "technician", "--building", "B1", "--password-stdin"]
    assert cli_main([*add, "--db-url", db_url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    add = ["users", "add", "res-b2", "--role", "resident", "--flat", "B2-01", "--password-stdin"]
    assert cli_main([*add, "--db-url", db_url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        cli_main(["users", "add", "x1", "--role", "admin", "--password-stdin", "--db-url", db_url])
        == 2
    )
    assert "mindst 10" in capsys.readouterr().err
    assert cli_main(["users", "assign", "kim", "--building", "B2", "--db-url", db_url]) == 0
    assert cli_main(["users", "disable", "res-b2", "--db-url", db_url]) == 0
    assert cli_main(["users", "list", "--db-url", db_url]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("kim\ttechnician\tbuilding:B1,building:B2")
    assert listing[1].startswith("res-b2\tresident\tflat:B2-01")
    assert "disabled" in listing[1]
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert cli_main(["users", "passwd", "kim", "--password-stdin", "--db-url", db_url]) == 0
    accounts = Accounts(make_engine(db_url))
    assert accounts.login("kim", "another long password", "cli")[1].buildings == {"B1", "B2"}
    accounts.close()
