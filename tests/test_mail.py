"""Alert e-mails (cloud/mail/) against a real SMTP server (aiosmtpd on a free loopback port):
one mail per alert episode to residents who opted in, none to the others, the unsubscribe link
through the real app, and an SMTP server that is down or refuses — retried later, logged, never
crashing the jobs."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from cloud.accounts.db import make_engine, upgrade
from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import Alert, AlertKind, AlertState, Severity
from cloud.jobs.runner import JobsConfig, run_jobs_once
from cloud.mail.mailer import send_alert_mails
from cloud.mail.prefs import MailPrefs
from cloud.mail.settings import MailSettings, Security
from cloud.registry import Registry
from cloud.servers import free_port
from cloud.store.base import CLIMATE, Point
from cloud.store.sqlite import SqliteStore

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
BASE = "https://indeklima.example.dk"


@dataclass
class Inbox:
    """What the SMTP server received; `refuse_rcpt` / `refuse_data` make it say no."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse_rcpt: set[str] = field(default_factory=set)
    refuse_data: bool = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return "451 4.3.0 try again later"
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def settings(port: int, **changes: Any) -> MailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": Security.NONE,
        "from_address": "Indeklima <indeklima@example.dk>",
        "base_url": BASE + "/",
        "timeout_s": 5.0,
    }
    return MailSettings(**(values | changes))


def alert(flat: str = "A", *, kind: AlertKind = AlertKind.CO2, raised: datetime = NOW) -> Alert:
    return Alert("B1", flat, kind, Severity.WARN, AlertState.NEW, 1300.0, raised, raised)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[MailPrefs, AlertStore]]:
    url = f"sqlite:///{tmp_path / 'alerts.sqlite'}"
    with MailPrefs(url) as prefs, AlertStore(url) as alerts:
        yield prefs, alerts


def opt_in(prefs: MailPrefs, who: str, flat: str = "A", at: datetime = NOW - 24 * HOUR) -> None:
    prefs.set_opt_in(who, "B1", flat, email=f"{who}@example.dk", enabled=True, now=at)


# one mail per episode, only to those who opted in


def test_one_mail_per_episode_to_those_who_opted_in(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    opt_in(prefs, "bo")
    prefs.set_opt_in("bo", "B1", "A", email="bo@example.dk", enabled=False, now=NOW - HOUR)
    opt_in(prefs, "carl", flat="B")
    episode = alert()
    alerts.save([episode])
    for minutes in (0, 5, 60):  # the jobs run again and again
        send_alert_mails(prefs, alerts, settings(port), NOW + timedelta(minutes=minutes))
    assert [m["To"] for m in inbox.messages] == ["anna@example.dk"]

    escalated = replace(episode, severity=Severity.ALARM, state=AlertState.ESCALATED)
    alerts.save([escalated])  # the same episode, now worse: no second mail
    send_alert_mails(prefs, alerts, settings(port), NOW + 2 * HOUR)
    assert len(inbox.messages) == 1

    cleared = replace(escalated, state=AlertState.CLEARED, cleared_at=NOW + 3 * HOUR)
    again = alert(raised=NOW + 5 * HOUR)
    alerts.save([cleared, again])  # a new episode after it cleared: a new mail
    send_alert_mails(prefs, alerts, settings(port), NOW + 5 * HOUR)
    send_alert_mails(prefs, alerts, settings(port), NOW + 6 * HOUR)
    assert [m["To"] for m in inbox.messages] == ["anna@example.dk"] * 2
    assert inbox.to("bo@example.dk") == [] and inbox.to("carl@example.dk") == []


def test_old_alerts_and_alerts_from_before_opting_in_are_not_mailed(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna", at=NOW - HOUR)
    alerts.save([alert(raised=NOW - 2 * HOUR)])  # before opting in
    alerts.save([alert(kind=AlertKind.MOULD, raised=NOW - 72 * HOUR)])  # older than 48 h
    run = send_alert_mails(prefs, alerts, settings(port), NOW)
    assert (run.sent, inbox.messages) == (0, [])


def test_the_mail_is_danish_then_english_with_text_html_and_links(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    alerts.save([alert(kind=AlertKind.SURFACE_RH)])
    send_alert_mails(prefs, alerts, settings(port), NOW)
    (mail,) = inbox.messages
    assert mail["Subject"].startswith("Advarsel: fugt ved de kolde vægge i lejlighed A / ")
    assert mail["From"] == "Indeklima <indeklima@example.dk>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert plain.index("Hold soveværelset over 18 °C") < plain.index("Keep the bedroom above 18")
    assert "10.02.2026 kl. 13:00" in plain  # local time (UTC+1 in February)
    assert f"Se dit indeklima: {BASE}/\r\n" in plain
    link = unsubscribe_link(mail)
    assert f"<{link}>" == mail["List-Unsubscribe"]
    assert '<html lang="da">' in html.get_content() and 'lang="en"' in html.get_content()


def unsubscribe_link(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(r"Afmeld disse mails: (\S+)", body.get_content())
    assert found is not None
    return found.group(1)


# the SMTP server is down, refuses, or hangs up


def test_an_unreachable_server_is_logged_and_retried_next_run(
    smtp: tuple[Inbox, int],
    db: tuple[MailPrefs, AlertStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    alerts.save([alert()])
    with caplog.at_level(logging.WARNING, "cloud.mail.mailer"):
        down = send_alert_mails(prefs, alerts, settings(free_port()), NOW)
    assert (down.sent, down.failed) == (0, 1)
    assert "will retry at the next run" in caplog.text
    up = send_alert_mails(prefs, alerts, settings(port), NOW + HOUR)
    assert (up.sent, [m["To"] for m in inbox.messages]) == (1, ["anna@example.dk"])


def test_a_refusing_server_is_retried_and_other_recipients_still_get_theirs(
    smtp: tuple[Inbox, int],
    db: tuple[MailPrefs, AlertStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    opt_in(prefs, "bo")
    alerts.save([alert()])
    inbox.refuse_rcpt = {"anna@example.dk"}
    with caplog.at_level(logging.WARNING, "cloud.mail.mailer"):
        first = send_alert_mails(prefs, alerts, settings(port), NOW)
    assert (first.sent, first.failed, [m["To"] for m in inbox.messages]) == (
        1,
        1,
        ["bo@example.dk"],
    )
    assert "was refused" in caplog.text
    inbox.refuse_rcpt = set()
    inbox.refuse_data = True  # "451 try again later" for everyone
    assert send_alert_mails(prefs, alerts, settings(port), NOW + HOUR).failed == 1
    inbox.refuse_data = False
    assert send_alert_mails(prefs, alerts, settings(port), NOW + 2 * HOUR).sent == 1
    assert [m["To"] for m in inbox.messages] == ["bo@example.dk", "anna@example.dk"]


def test_a_server_that_does_not_offer_starttls_is_not_sent_plain_text(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    alerts.save([alert()])
    run = send_alert_mails(prefs, alerts, settings(port, security=Security.STARTTLS), NOW)
    assert (run.sent, run.failed, inbox.messages) == (0, 1, [])


def test_a_run_sends_at_most_its_cap_and_the_rest_next_time(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    for who in ("anna", "bo", "carl"):
        opt_in(prefs, who)
    alerts.save([alert()])
    assert send_alert_mails(prefs, alerts, settings(port, max_per_run=2), NOW).sent == 2
    assert send_alert_mails(prefs, alerts, settings(port, max_per_run=2), NOW).sent == 1
    assert len(inbox.messages) == 3


def test_what_was_sent_is_forgotten_once_it_cannot_be_sent_again(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna", at=NOW - 30 * 24 * HOUR)
    alerts.save([alert(raised=NOW - 20 * 24 * HOUR)])
    send_alert_mails(prefs, alerts, settings(port), NOW - 20 * 24 * HOUR)
    assert prefs.sent_count() == 1
    send_alert_mails(prefs, alerts, settings(port), NOW)  # 20 days on: out of 48 h + 7 days
    assert (prefs.sent_count(), len(inbox.messages)) == (0, 1)


# through the jobs


def test_the_jobs_mail_a_co2_alert_once_and_survive_a_dead_server(
    smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    registry = Registry.model_validate(
        {"buildings": [{"id": "B1", "flats": [{"id": "A", "area_m2": 50.0}]}]}
    )
    start = NOW - 3 * HOUR
    with SqliteStore(tmp_path / "store.sqlite") as store:
        store.write(
            [
                Point(
                    CLIMATE,
                    {"building": "B1", "flat": "A", "room": "stue", "sensor": "s1"},
                    {"temperature_c": 21.0, "humidity_pct": 40.0, "co2_ppm": 1500.0},
                    int((start + i * timedelta(minutes=5)).timestamp()) * 10**9,
                )
                for i in range(36)
            ]
        )
        state = tmp_path / "jobs"
        state.mkdir()
        with MailPrefs(state / "alerts.sqlite") as prefs:
            opt_in(prefs, "anna", at=start - HOUR)
        dead = JobsConfig(mail=settings(free_port()))
        summary = run_jobs_once(
            store, registry, state, NOW - 55 * timedelta(minutes=1), config=dead
        )
        assert summary.alerts_changed == 1 and summary.mails_failed == 1
        assert summary.rollup_hours == 2  # 09:00 and 10:00; 11:00 is not complete at 11:05
        accounts_url = f"sqlite:///{tmp_path / 'accounts.sqlite'}"
        engine = make_engine(accounts_url)
        upgrade(engine)  # an accounts database where "anna" is nobody's resident
        engine.dispose()
        checked = JobsConfig(mail=settings(port), accounts_url=accounts_url)
        assert run_jobs_once(store, registry, state, NOW, config=checked).mails_sent == 0
        live = JobsConfig(mail=settings(port))
        for minutes in (0, 10, 20):
            summary = run_jobs_once(
                store, registry, state, NOW + timedelta(minutes=minutes), config=live
            )
        assert summary.rollup_hours == 0  # rolled by the first runs; nothing new since
        assert [m["To"] for m in inbox.messages] == ["anna@example.dk"]
        assert "dårlig luft (CO2)" in inbox.messages[0]["Subject"]


# unsubscribing through the app, without login

REGISTRY = """
[[buildings]]
id = "B1"
[[buildings.flats]]
id = "A"
area_m2 = 50.0
"""


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    from cloud.api import ApiServer, ApiSettings, create_app
    from tests.accounts_kit import open_accounts

    api_settings = ApiSettings(
        accounts_url=f"sqlite:///{tmp_path / 'accounts.db'}",
        alerts_url=f"sqlite:///{tmp_path / 'alerts.sqlite'}",
        runs_url=f"sqlite:///{tmp_path / 'runs.db'}",
    )
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    open_accounts(api_settings.accounts_url).close()  # indeklima db upgrade
    with SqliteStore(tmp_path / "store.sqlite") as store:
        app = create_app(api_settings, store, registry)
        with ApiServer(app, port=free_port()) as server:
            yield server.url


def test_the_unsubscribe_link_turns_the_mail_off_without_login(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore], app_url: str
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    alerts.save([alert()])
    send_alert_mails(prefs, alerts, settings(port), NOW)
    link = unsubscribe_link(inbox.messages[0]).replace(BASE, app_url)

    shown = requests.get(link, timeout=10)  # a link scanner's GET changes nothing
    assert shown.status_code == 200 and "Afmeld / Unsubscribe" in shown.text
    assert prefs.opted_in("anna", "B1", "A")

    done = requests.post(link, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert done.status_code == 200 and "Afmeldt" in done.text
    assert not prefs.opted_in("anna", "B1", "A")
    alerts.save([alert(kind=AlertKind.SENSOR_SILENT, raised=NOW + HOUR)])
    assert send_alert_mails(prefs, alerts, settings(port), NOW + HOUR).sent == 0

    opt_in(prefs, "anna", at=NOW + 2 * HOUR)  # on again: the old link is void
    assert requests.post(link, timeout=10).status_code == 404
    assert prefs.opted_in("anna", "B1", "A")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "a.b",
        "a.b.c",
        "W10.AAAA",
        "ÆØÅ.ÆØÅ",
        "x" * 999,
    ],
)
def test_a_forged_or_garbled_token_is_404_and_changes_nothing(
    db: tuple[MailPrefs, AlertStore], app_url: str, token: str
) -> None:
    prefs, _ = db
    opt_in(prefs, "anna")
    for method in ("GET", "POST"):
        answer = requests.request(
            method, f"{app_url}/mail/unsubscribe", params={"token": token}, timeout=10
        )
        assert answer.status_code == 404, answer.text
        assert "Linket virker ikke" in answer.text
    assert prefs.opted_in("anna", "B1", "A")


def test_a_token_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    with MailPrefs(tmp_path / "one.sqlite") as one, MailPrefs(tmp_path / "two.sqlite") as two:
        sub = one.set_opt_in("anna", "B1", "A", email="anna@example.dk", enabled=True, now=NOW)
        two.set_opt_in("anna", "B1", "A", email="anna@example.dk", enabled=True, now=NOW)
        token = one.unsubscribe_token(sub)
        assert one.subscription_for_token(token) == sub
        assert two.subscription_for_token(token) is None


# settings


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"from_address": "nobody"}, "not an e-mail address"),
        ({"base_url": "indeklima.example.dk"}, "must start with https://"),
        ({"password": "pw", "password_file": "/etc/hostname"}, "not both"),
        ({"password_file": "/nonexistent/secret"}, "does not exist"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"security": "tls-maybe"}, "starttls"),
    ],
)
def test_settings_refuse_what_cannot_work(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        settings(changes.pop("port", 25), **changes)


def test_the_password_comes_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    assert settings(25, password_file=secret).password_value() == "s3cret"
    monkeypatch.setenv("INDEKLIMA_MAIL_HOST", "smtp.example.dk")
    monkeypatch.setenv("INDEKLIMA_MAIL_PASSWORD", "fr0m-env")
    monkeypatch.setenv("INDEKLIMA_MAIL_FROM_ADDRESS", "indeklima@example.dk")
    monkeypatch.setenv("INDEKLIMA_MAIL_BASE_URL", BASE)
    from_env = MailSettings()  # type: ignore[call-arg]
    assert (from_env.port, from_env.security, from_env.password_value()) == (
        587,
        Security.STARTTLS,
        "fr0m-env",
    )
    assert "fr0m-env" not in repr(from_env)


# only current residents with active accounts (issue 9's accounts)


def test_only_current_residents_with_active_accounts_are_mailed(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore], tmp_path: Path
) -> None:
    from cloud.accounts.db import seed_registry
    from cloud.accounts.principal import Role
    from cloud.accounts.service import Accounts
    from cloud.mail.directory import AccountsDirectory

    inbox, port = smtp
    prefs, alerts = db
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    try:
        upgrade(engine)
        registry = Registry.model_validate(
            {"buildings": [{"id": "B1", "flats": [{"id": "A", "area_m2": 50.0}]}]}
        )
        seed_registry(engine, registry)
        accounts = Accounts(engine)
        ids = {}
        for name in ("anna", "bo", "carl", "dora", "eva", "finn"):
            ids[name] = str(accounts.create_user(name, Role.RESIDENT, "pw-" + "x" * 12))
            accounts.add_resident(name, "A", since=NOW - 100 * HOUR)
            opt_in(prefs, ids[name])
        accounts.remove_resident("bo", "A")  # a link made by mistake
        accounts.set_disabled("carl")
        accounts.move_out("eva", "A", NOW - HOUR)  # moved out: the alert is the next tenant's
        accounts.move_out("finn", "A", NOW + HOUR)  # moves out later: still lives there
        prefs.set_opt_in("nobody", "B1", "A", email="x@example.dk", enabled=True, now=NOW - HOUR)
        alerts.save([alert()])
        run = send_alert_mails(prefs, alerts, settings(port), NOW, AccountsDirectory(engine))
        assert [m["To"] for m in inbox.messages] == [
            f"{ids['anna']}@example.dk",
            f"{ids['dora']}@example.dk",
            f"{ids['finn']}@example.dk",
        ]
        assert run.sent == 3
    finally:
        engine.dispose()


# TLS and login, as a real relay wants them


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (Debian openssl), trusted via `ca_file`."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def relay(
    inbox: Inbox, certificate: tuple[Path, Path], *, implicit: bool
) -> tuple[Controller, int]:
    """An aiosmtpd relay that wants TLS (STARTTLS or implicit) and a login."""
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"indeklima",
            b"s3cret",
        )
        return AuthResult(success=ok)

    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if implicit:  # aiosmtpd only counts STARTTLS as TLS for AUTH; this socket is TLS throughout
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, port


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", [Security.STARTTLS, Security.SSL])
def test_mail_goes_over_tls_with_a_login_and_a_wrong_password_is_retried(
    db: tuple[MailPrefs, AlertStore],
    certificate: tuple[Path, Path],
    tmp_path: Path,
    security: Security,
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefs, alerts = db
    inbox = Inbox()
    controller, port = relay(inbox, certificate, implicit=security is Security.SSL)
    try:
        opt_in(prefs, "anna")
        alerts.save([alert()])
        password = tmp_path / "smtp-password"
        password.write_text("wrong\n")
        tls = {"security": security, "ca_file": certificate[0], "username": "indeklima"}
        with caplog.at_level(logging.WARNING, "cloud.mail.mailer"):
            refused = send_alert_mails(
                prefs, alerts, settings(port, password_file=password, **tls), NOW
            )
        assert (refused.sent, refused.failed, inbox.messages) == (0, 1, [])
        assert "will retry at the next run" in caplog.text
        password.write_text("s3cret\n")  # a rotated secret file is read at each run
        sent = send_alert_mails(prefs, alerts, settings(port, password_file=password, **tls), NOW)
        assert (sent.sent, [m["To"] for m in inbox.messages]) == (1, ["anna@example.dk"])
    finally:
        controller.stop()


def test_an_untrusted_certificate_is_not_sent_to(
    db: tuple[MailPrefs, AlertStore], certificate: tuple[Path, Path]
) -> None:
    prefs, alerts = db
    inbox = Inbox()
    controller, port = relay(inbox, certificate, implicit=False)
    try:
        opt_in(prefs, "anna")
        alerts.save([alert()])
        run = send_alert_mails(prefs, alerts, settings(port, security=Security.STARTTLS), NOW)
        assert (run.sent, run.failed, inbox.messages) == (0, 1, [])
    finally:
        controller.stop()


def test_erasure_forgets_the_address_and_what_was_sent(
    smtp: tuple[Inbox, int], db: tuple[MailPrefs, AlertStore]
) -> None:
    inbox, port = smtp
    prefs, alerts = db
    opt_in(prefs, "anna")
    opt_in(prefs, "anna", flat="B")
    opt_in(prefs, "bo")
    alerts.save([alert()])
    send_alert_mails(prefs, alerts, settings(port), NOW)
    assert len(inbox.messages) == 2
    assert prefs.forget("anna") == 3  # two opt-ins, one mail sent
    assert [s.subscriber for s in prefs.subscriptions()] == ["bo"]
    assert not prefs.opted_in("anna", "B1", "A") and prefs.sent_count() == 1
    assert prefs.forget("anna") == 0
