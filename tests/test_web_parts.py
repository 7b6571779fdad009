"""The pages' parts on their own: the gettext catalogs, the language choice, CSRF tokens,
alert acknowledgements (append-only) and activation codes (once, expiry, tries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from cloud.accounts.passwords import Passwords
from cloud.analytics.alert_acks import MAX_COMMENT_CHARS, AckError, AlertAcks, clean_comment
from cloud.web import csrf
from cloud.web.i18n import LOCALE_DIR, Lang, gettext, parse_lang
from cloud.web.invitations import (
    CODE_TTL,
    MAX_FAILURES,
    InvitationError,
    Invitations,
    new_code,
    normalise_code,
)
from cloud.web.session import safe_next
from tests.accounts_kit import CHEAP

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _catalog(lang: str) -> tuple[Path, Path]:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    return folder / "messages.po", folder / "messages.mo"


def _texts(catalog: Catalog) -> dict[object, object]:
    """Translated entries as {id: string}, plural ids and strings as tuples."""

    def plain(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {
        plain(m.id): plain(m.string)
        for m in catalog
        if m.id and (all(m.string) if isinstance(m.string, list | tuple) else m.string)
    }


def test_every_text_has_a_danish_translation_and_the_mo_files_are_compiled() -> None:
    for lang in ("da", "en"):
        po_path, mo_path = _catalog(lang)
        with po_path.open("rb") as po_file, mo_path.open("rb") as mo_file:
            po, mo = read_po(po_file), read_mo(mo_file)
        if lang == "da":  # (English is the message id: its catalog translates nothing)
            assert _texts(po) == _texts(mo), f"{mo_path} is stale: run `make i18n`"
            missing = [
                m.id for m in po if m.id and not (all(m.string) if m.pluralizable else m.string)
            ]
            assert not missing, f"untranslated in Danish: {missing}"
            assert not [m.id for m in po if m.id and m.fuzzy], "fuzzy Danish entries"
    assert gettext(Lang.DA, "Log in") == "Log ind"
    assert gettext(Lang.EN, "Log in") == "Log in"


@pytest.mark.parametrize(
    ("cookie", "lang"),
    [("da", Lang.DA), ("en", Lang.EN), (None, Lang.DA), ("de", Lang.DA), ("", Lang.DA)],
)
def test_the_language_cookie_falls_back_to_danish(cookie: str | None, lang: Lang) -> None:
    assert parse_lang(cookie) is lang


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("/charts?range=day", "/charts?range=day"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x=y", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_login_only_local_paths(value: str | None, target: str) -> None:
    assert safe_next(value) == target


def test_csrf_tokens_are_bound_to_the_session_and_the_purpose() -> None:
    key = csrf.new_key()
    token = csrf.token(key, "session-a")
    assert csrf.valid(key, "session-a", token)
    assert not csrf.valid(key, "session-b", token)
    assert not csrf.valid(key, "session-a", token, "login")
    assert not csrf.valid(csrf.new_key(), "session-a", token)
    assert not csrf.valid(key, None, token)
    assert not csrf.valid(key, "session-a", None)
    assert not csrf.valid(key, "session-a", token + "x" * 100)


def test_acknowledgements_are_kept_in_order_and_never_changed(tmp_path: Path) -> None:
    acks = AlertAcks(tmp_path / "alerts.sqlite")
    try:
        acks.acknowledge("B1/B1-01/co2/x", by="tech-a", comment="  Ringet op\x07 ", at=NOW)
        acks.acknowledge("B1/B1-01/co2/x", by="tech-b", comment="Fulgt op", at=NOW)
        found = acks.for_alerts(["B1/B1-01/co2/x", "other"])
        assert [(a.by, a.comment) for a in found["B1/B1-01/co2/x"]] == [
            ("tech-a", "Ringet op"),
            ("tech-b", "Fulgt op"),
        ]
        assert found["other"] == []
        from sqlalchemy.orm import Session

        from cloud.analytics.alert_acks import _AckRow

        with Session(acks._engine) as session, pytest.raises(AckError):
            row = session.query(_AckRow).first()
            assert row is not None
            row.comment = "rewritten"
            session.commit()
    finally:
        acks.close()


@pytest.mark.parametrize("comment", ["", "   ", "\x00\x01", "x" * (MAX_COMMENT_CHARS + 1)])
def test_empty_or_long_comments_are_refused(comment: str) -> None:
    with pytest.raises(AckError):
        clean_comment(comment)


@pytest.fixture
def invitations(tmp_path: Path) -> Invitations:
    from sqlalchemy import create_engine

    return Invitations(create_engine(f"sqlite:///{tmp_path / 'accounts.db'}"), Passwords(CHEAP))


def test_a_code_works_once(invitations: Invitations) -> None:
    issued = invitations.issue("beboer", by="admin", now=NOW)
    assert normalise_code(issued.code.lower().replace("-", " ")) == issued.code
    invitations.redeem("beboer", issued.code.lower(), now=NOW + timedelta(days=1))
    with pytest.raises(InvitationError):
        invitations.redeem("beboer", issued.code, now=NOW + timedelta(days=1))


def test_a_code_expires(invitations: Invitations) -> None:
    issued = invitations.issue("beboer", by="admin", now=NOW)
    with pytest.raises(InvitationError):
        invitations.redeem("beboer", issued.code, now=NOW + CODE_TTL)


def test_a_code_is_void_after_too_many_wrong_tries(invitations: Invitations) -> None:
    issued = invitations.issue("beboer", by="admin", now=NOW)
    wrong = "AAAA-AAAA-AAAA" if issued.code != "AAAA-AAAA-AAAA" else "BBBB-BBBB-BBBB"
    for left in range(MAX_FAILURES - 1, -1, -1):
        with pytest.raises(InvitationError, match=f"{left} forsøg tilbage"):
            invitations.redeem("beboer", wrong, now=NOW)
    with pytest.raises(InvitationError, match="virker ikke"):
        invitations.redeem("beboer", issued.code, now=NOW)


def test_a_new_code_replaces_the_old_one(invitations: Invitations) -> None:
    first = invitations.issue("beboer", by="admin", now=NOW)
    second = invitations.issue("beboer", by="admin", now=NOW)
    with pytest.raises(InvitationError):
        invitations.redeem("beboer", first.code, now=NOW)
    invitations.redeem("beboer", second.code, now=NOW)


def test_codes_are_12_unambiguous_symbols() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 14 and not set(c) & set("01OI") for c in codes)


TEMPLATES = Path(__file__).resolve().parent.parent / "cloud" / "web" / "templates"


@pytest.mark.parametrize(
    "template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html"))
)
def test_page_titles_are_plain_text(template: str) -> None:
    """A page's title block holds a few words, never markup (a merged template once carried a
    whole form inside its <title>)."""
    import re

    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for title in re.findall(r"{% block title %}(.*?){% endblock %}", text, flags=re.S):
        assert "<" not in title and "\n" not in title, f"{template}: {title[:80]!r}"
