"""``indeklima db`` (schema and seeding) and ``indeklima users`` (accounts for real installs).

The database URL comes from ``--db-url``, else ``INDEKLIMA_API_ACCOUNTS_URL`` (the API's), else
``sqlite:///accounts.db``. Passwords are never taken from the command line (other users can read
it from the process list): they are asked for on the terminal, or read from standard input with
``--password-stdin`` (one line).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import unicodedata
from pathlib import Path

ENV_URL = "INDEKLIMA_API_ACCOUNTS_URL"
DEFAULT_URL = (
    "sqlite:///accounts.db"  # = cloud.accounts.db.DEFAULT_URL (not imported: quick --help)
)


def _url_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db-url",
        default=None,
        metavar="URL",
        help=f"SQLAlchemy URL (default ${ENV_URL} or {DEFAULT_URL})",
    )


def _url(args: argparse.Namespace) -> str:
    return str(args.db_url or os.environ.get(ENV_URL) or DEFAULT_URL)


def _fail(text: str) -> int:
    sys.stderr.write(f"fejl / error: {text}\n")
    return 2


# -- indeklima db ---------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = sub.add_parser("upgrade", help="create or migrate the accounts schema")
    _url_argument(upgrade)
    upgrade.add_argument("--registry", type=Path, help="also seed buildings and flats from it")
    upgrade.add_argument("--organisation", help="housing organisation of the seeded buildings")
    seed = sub.add_parser("seed", help="add buildings and flats from registry.toml")
    _url_argument(seed)
    seed.add_argument("--registry", type=Path, required=True)
    seed.add_argument("--organisation", help="housing organisation of these buildings")
    current = sub.add_parser("current", help="show the schema revision")
    _url_argument(current)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.accounts import db
    from cloud.registry import Registry

    try:
        engine = db.make_engine(_url(args))
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        return _fail(f"kan ikke åbne / cannot open {_url(args)!r}: {exc}")
    try:
        if args.db_command == "current":
            found = db.current(engine)
            sys.stdout.write(f"{found or 'tom / empty'} (nyeste / newest: {db.head()})\n")
            return 0 if found == db.head() else 1
        if args.db_command == "upgrade":
            revision = db.upgrade(engine)
            sys.stdout.write(f"kontodatabasen er på / accounts database at {revision}\n")
        if args.registry is not None:
            db.require_current(engine)
            report = db.seed_registry(
                engine, Registry.load(args.registry), organisation=args.organisation
            )
            sys.stdout.write(
                f"bygninger tilføjet / buildings added: {report.buildings_added}, lejligheder "
                f"tilføjet / flats added: {report.flats_added}\n"
            )
        return 0
    except (db.SchemaOutOfDate, ValidationError, OSError, ValueError, SQLAlchemyError) as exc:
        return _fail(str(exc))
    finally:
        engine.dispose()


# -- indeklima users ------------------------------------------------------------------------


def _flat(text: str) -> str:
    """A flat id as typed, NFC-normalised as the registry stores it (an ``å`` typed as ``a`` +
    ring in a terminal still names the flat ``å``)."""
    return unicodedata.normalize("NFC", text)


def configure_users(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a user (asks for the password)")
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["resident", "technician", "finance", "admin"]
    )
    add.add_argument("--display-name", default=None)
    add.add_argument(
        "--flat", action="append", default=[], type=_flat, help="resident: the flat(s)"
    )
    add.add_argument("--building", action="append", default=[], help="technician/finance")
    add.add_argument("--organisation", action="append", default=[], help="finance")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    _url_argument(add)
    listing = sub.add_parser("list", help="list users with their roles and scopes")
    listing.add_argument("--role", choices=["resident", "technician", "finance", "admin"])
    _url_argument(listing)
    disable = sub.add_parser("disable", help="disable a user (ends their sessions)")
    disable.add_argument("username")
    disable.add_argument("--enable", action="store_true", help="enable again instead")
    _url_argument(disable)
    passwd = sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    _url_argument(passwd)
    assign = sub.add_parser("assign", help="give (or --remove) a building, organisation or flat")
    assign.add_argument("username")
    target = assign.add_mutually_exclusive_group(required=True)
    target.add_argument("--building")
    target.add_argument("--organisation")
    target.add_argument("--flat", type=_flat)
    assign.add_argument("--remove", action="store_true")
    _url_argument(assign)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Adgangskode / password: ")
    if getpass.getpass("Igen / again: ") != first:
        raise ValueError("adgangskoderne er forskellige / the passwords differ")
    return first


def run_users(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.accounts import db
    from cloud.accounts.errors import AccountError
    from cloud.accounts.principal import Role, ScopeKind
    from cloud.accounts.service import Accounts

    engine = db.make_engine(_url(args))
    accounts = Accounts(engine)
    try:
        db.require_current(engine)
        command = args.users_command
        if command == "add":
            password = _password(args)
            accounts.create_user(
                args.username, Role(args.role), password, display_name=args.display_name
            )
            for flat in args.flat:
                accounts.add_resident(args.username, flat)
            for building in args.building:
                accounts.assign(args.username, ScopeKind.BUILDING, building)
            for organisation in args.organisation:
                accounts.assign(args.username, ScopeKind.ORGANISATION, organisation)
            sys.stdout.write(f"oprettet / created: {accounts.user(args.username).username}\n")
        elif command == "list":
            for user in accounts.users(Role(args.role) if args.role else None):
                scopes = [f"{k}:{s}" for k, s in user.scopes] + [f"flat:{f}" for f in user.flats]
                state = " (spærret / disabled)" if user.disabled else ""
                sys.stdout.write(
                    f"{user.username}\t{user.role}\t{','.join(scopes) or '-'}\t"
                    f"{user.display_name}{state}\n"
                )
        elif command == "disable":
            accounts.set_disabled(args.username, not args.enable)
        elif command == "passwd":
            ended = accounts.set_password(args.username, _password(args))
            sys.stdout.write(f"sessioner afsluttet / sessions ended: {ended}\n")
        elif command == "assign":
            if args.flat:
                if args.remove:
                    accounts.remove_resident(args.username, args.flat)
                else:
                    accounts.add_resident(args.username, args.flat)
            else:
                kind = ScopeKind.BUILDING if args.building else ScopeKind.ORGANISATION
                scope_id = args.building or args.organisation
                if args.remove:
                    accounts.unassign(args.username, kind, scope_id)
                else:
                    accounts.assign(args.username, kind, scope_id)
        return 0
    except (AccountError, db.SchemaOutOfDate, ValueError, SQLAlchemyError, EOFError) as exc:
        return _fail(str(exc))
    finally:
        accounts.close()
