"""The web pages over HTTP (no browser): login and its errors, the session cookie's flags,
CSRF on every form, expired sessions, 403/404 like the API, language, four eyes, downloads."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from cloud.store.base import CLIMATE, Point
from tests.web_app import PASSWORD, WebApp, web_app


class LoopbackPolicy(DefaultCookiePolicy):
    """Send Secure cookies to http://127.0.0.1 as browsers do (a secure context), and only
    there; `requests` alone keeps them for https."""

    def return_ok_secure(self, cookie: Cookie, request: Any) -> bool:
        host = urlparse(request.get_full_url()).hostname
        return host == "127.0.0.1" or super().return_ok_secure(cookie, request)


class Browserlike(requests.Session):
    """A session that sends its Secure cookies to 127.0.0.1 (requests builds a fresh cookie
    jar for every request, so the policy is set on that one)."""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        jar = prepared._cookies  # type: ignore[attr-defined]
        jar.set_policy(LoopbackPolicy())
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(jar)
        return prepared


SESSIONS: list[requests.Session] = []


def browserlike() -> requests.Session:
    session = Browserlike()
    SESSIONS.append(session)
    return session


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    yield from web_app(tmp_path_factory.mktemp("web"))
    while SESSIONS:
        SESSIONS.pop().close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def login(app: WebApp, username: str, password: str = PASSWORD) -> requests.Session:
    session = browserlike()
    form = session.get(app.url + "/login", timeout=30)
    answer = session.post(
        app.url + "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert session.cookies.get("indeklima_session")
    return session


def test_login_sets_a_secure_httponly_samesite_cookie(app: WebApp) -> None:
    session = browserlike()
    form = session.get(app.url + "/login", timeout=30)
    assert form.status_code == 200 and 'lang="da"' in form.text
    answer = session.post(
        app.url + "/login",
        data={"username": "technician", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("indeklima_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age="):
        assert flag.lower() in cookie.lower(), cookie


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"username": "", "password": ""}, "username", "Skriv dit brugernavn"),
        ({"username": "technician", "password": ""}, "password", "Skriv din adgangskode"),
        ({"username": "technician", "password": "wrong-password"}, "username", "forkert"),
    ],
)
def test_login_errors_are_shown_beside_the_field_in_danish(
    app: WebApp, fields: dict[str, str], field: str, text: str
) -> None:
    session = browserlike()
    form = session.get(app.url + "/login", timeout=30)
    answer = session.post(
        app.url + "/login", data={**fields, "csrf_token": csrf_of(form.text)}, timeout=30
    )
    assert answer.status_code == 200  # the form again, with its errors
    assert f'id="{field}-error"' in answer.text and text.lower() in answer.text.lower()
    assert 'href="#' + field + '"' in answer.text  # the error summary links to the field
    assert "indeklima_session" not in answer.headers.get("set-cookie", "")


def test_login_errors_in_english_when_chosen(app: WebApp) -> None:
    session = browserlike()
    switch = session.get(app.url + "/lang/en?next=/login", timeout=30, allow_redirects=False)
    assert switch.status_code == 303 and "indeklima_lang=en" in switch.headers["set-cookie"]
    form = session.get(app.url + "/login", timeout=30)
    assert 'lang="en"' in form.text and "Log in" in form.text
    answer = session.post(
        app.url + "/login",
        data={"username": "", "password": "", "csrf_token": csrf_of(form.text)},
        timeout=30,
    )
    assert "Enter your user name" in answer.text


def test_a_form_without_the_csrf_token_is_refused(app: WebApp) -> None:
    session = browserlike()
    session.get(app.url + "/login", timeout=30)
    answer = session.post(
        app.url + "/login", data={"username": "technician", "password": PASSWORD}, timeout=30
    )
    assert (
        "Formularen var udløbet" in answer.text
        and "indeklima_session" not in answer.headers.get("set-cookie", "")
    )
    tech = login(app, "technician")
    page = tech.get(app.url + "/alerts", timeout=30)
    alert_id = re.search(r'name="alert_id" value="([^"]+)"', page.text)
    assert alert_id
    good = csrf_of(page.text)
    tampered = good[:-1] + ("B" if good.endswith("A") else "A")  # never the same token
    for token in ("", "x" * 43, tampered):
        refused = tech.post(
            app.url + "/alerts/acknowledge",
            data={"alert_id": alert_id.group(1), "comment": "forsøg", "csrf_token": token},
            timeout=30,
        )
        assert refused.status_code == 403, token
    # another person's token does not work for this session
    other = login(app, "technician")
    foreign = csrf_of(other.get(app.url + "/alerts", timeout=30).text)
    refused = tech.post(
        app.url + "/alerts/acknowledge",
        data={"alert_id": alert_id.group(1), "comment": "forsøg", "csrf_token": foreign},
        timeout=30,
    )
    assert refused.status_code == 403


def test_without_a_session_pages_go_to_the_login(app: WebApp) -> None:
    answer = browserlike().get(app.url + "/charts?range=day", timeout=30, allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/charts%3Frange%3Dday"


def test_an_expired_session_goes_back_to_the_login_with_a_message(app: WebApp) -> None:
    session = login(app, "resident-b1-01")
    token = session.cookies["indeklima_session"]
    assert app.accounts.logout(token)  # as if it had expired: the server no longer knows it
    answer = session.get(app.url + "/", timeout=30, allow_redirects=False)
    assert answer.status_code == 303 and "expired=1" in answer.headers["location"]
    page = session.get(app.url + answer.headers["location"], timeout=30)
    assert "Din session er udløbet" in page.text


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("resident-b1-01", "/flats/B1-02", 404),  # another resident's flat: not even its existence
        ("resident-b1-01", "/flats/NOPE", 404),
        ("resident-b1-01", "/charts?flat=B2-01", 404),
        ("resident-b1-01", "/alerts", 403),
        ("resident-b1-01", "/users", 403),
        ("technician", "/flats/B2-01", 403),  # not their building
        ("technician", "/buildings/B1/settlements/new", 403),
        ("finance", "/buildings/B2/settlements/new", 403),
        ("technician", "/buildings/B1/settlements/1/correct", 403),
        ("finance", "/buildings/B2/settlements/1/correct", 403),
        ("finance", "/buildings/B1/settlements/999999/correct", 404),
        ("finance", "/health", 403),
        ("finance", "/heating", 403),
        ("admin", "/flats/B1-01", 403),
    ],
)
def test_pages_refuse_like_the_api(app: WebApp, who: str, path: str, status: int) -> None:
    answer = login(app, who).get(app.url + path, timeout=30, allow_redirects=False)
    assert answer.status_code == status, answer.text[:500]
    assert "<h1>" in answer.text and "Traceback" not in answer.text


def test_technician_sees_details_only_while_the_residents_consent(app: WebApp) -> None:
    tech = login(app, "technician")
    before = tech.get(app.url + "/flats/B1-01", timeout=30)
    assert before.status_code == 200 and 'data-chart="' not in before.text
    assert "ikke givet samtykke" in before.text
    resident = login(app, "resident-b1-01")
    page = resident.get(app.url + "/my-data", timeout=30)
    saved = resident.post(
        app.url + "/my-data/consent",
        data={"staff_detail": "yes", "csrf_token": csrf_of(page.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert saved.status_code == 303
    after = tech.get(app.url + "/flats/B1-01?range=day", timeout=30)
    assert 'data-chart="temperature_c"' in after.text
    from cloud.accounts import AuditQuery

    reads = app.accounts.audit_entries(AuditQuery(flat_id="B1-01", action="flat.detail_read"))
    assert reads and reads[0].username == "technician"
    resident.post(
        app.url + "/my-data/consent",
        data={"staff_detail": "no", "csrf_token": csrf_of(page.text)},
        timeout=30,
    )
    again = tech.get(app.url + "/flats/B1-01", timeout=30)
    assert 'data-chart="' not in again.text


def test_statements_deadline_and_four_eyes_by_identity(app: WebApp) -> None:
    fin = login(app, "finance")
    form = fin.get(app.url + "/buildings/B1/settlements/new", timeout=30)
    token = csrf_of(form.text)
    fields = {"period_start": "2026-01", "period_end": "2026-01", "bill_received": ""}
    ambiguous = fin.post(
        app.url + "/buildings/B1/settlements/new",
        data={**fields, "total_cost": "250.000", "csrf_token": token},
        timeout=30,
    )
    assert 'id="total_cost-error"' in ambiguous.text
    preview = fin.post(
        app.url + "/buildings/B1/settlements/new",
        data={**fields, "total_cost": "30.000,00", "csrf_token": token, "action": "preview"},
        timeout=30,
    )
    assert preview.status_code == 200 and 'id="preview"' in preview.text
    saved = fin.post(
        app.url + "/buildings/B1/settlements/new",
        data={**fields, "total_cost": "30.000,00", "csrf_token": token, "action": "save"},
        timeout=30,
        allow_redirects=False,
    )
    assert saved.status_code == 303
    run = saved.headers["location"]
    page = fin.get(app.url + run, timeout=30)
    assert "31. maj 2026" in page.text  # January 2026's statements are due 4 months later
    fin.post(app.url + run + "/check", data={"csrf_token": token}, timeout=30)
    refused = fin.post(app.url + run + "/approve", data={"csrf_token": token}, timeout=30)
    assert "kan ikke også godkende" in refused.text
    fin2 = login(app, "finance2")
    token2 = csrf_of(fin2.get(app.url + run, timeout=30).text)
    approved = fin2.post(app.url + run + "/approve", data={"csrf_token": token2}, timeout=30)
    assert approved.status_code == 200 and "badge-success" in approved.text
    zipped = fin2.get(app.url + run + "/download/pdf.zip", timeout=60)
    assert zipped.headers["content-type"] == "application/zip" and zipped.content[:2] == b"PK"
    resident = login(app, "resident-b1-01")
    heating = resident.get(app.url + "/heating", timeout=30)
    link = re.search(r'href="(/heating/statements/\d+\.pdf)"', heating.text)
    assert link, heating.text
    pdf = resident.get(app.url + link.group(1), timeout=30)
    assert pdf.content.startswith(b"%PDF")
    neighbour = login(app, "resident-b1-02")  # the same URL gives each flat its own statement
    own = neighbour.get(app.url + link.group(1), timeout=30)
    assert own.content.startswith(b"%PDF") and own.content != pdf.content
    other = login(app, "resident-b2-01")  # a flat not in the run
    assert other.get(app.url + link.group(1), timeout=30).status_code == 404


def test_an_invited_resident_activates_with_the_code_once(app: WebApp) -> None:
    admin = login(app, "admin")
    form = admin.get(app.url + "/users/invite", timeout=30)
    letter = admin.post(
        app.url + "/users/invite",
        data={
            "username": "ny-beboer",
            "display_name": "Ny Beboer",
            "flat": "B1-02",
            "csrf_token": csrf_of(form.text),
        },
        timeout=30,
    )
    code = re.search(r'id="invite-code">([A-Z0-9-]+)<', letter.text)
    assert code, letter.text
    session = browserlike()
    page = session.get(app.url + "/activate", timeout=30)
    wrong = session.post(
        app.url + "/activate",
        data={
            "username": "ny-beboer",
            "code": "AAAA-AAAA-AAAA",
            "password": "et-godt-kodeord",
            "csrf_token": csrf_of(page.text),
        },
        timeout=30,
    )
    assert "4 forsøg tilbage" in wrong.text
    done = session.post(
        app.url + "/activate",
        data={
            "username": "ny-beboer",
            "code": code.group(1).lower(),
            "password": "et-godt-kodeord",
            "csrf_token": csrf_of(page.text),
        },
        timeout=30,
        allow_redirects=False,
    )
    assert done.status_code == 303 and "indeklima_session=" in done.headers["set-cookie"]
    again = session.post(
        app.url + "/activate",
        data={
            "username": "ny-beboer",
            "code": code.group(1),
            "password": "et-andet-kodeord",
            "csrf_token": csrf_of(page.text),
        },
        timeout=30,
    )
    assert 'id="code-error"' in again.text  # once only
    login(app, "ny-beboer", "et-godt-kodeord")


def test_a_disabled_user_is_logged_out_and_cannot_log_in(app: WebApp) -> None:
    victim = login(app, "resident-b2-01")
    admin = login(app, "admin")
    token = csrf_of(admin.get(app.url + "/", timeout=30).text)
    answer = admin.post(
        app.url + "/users/resident-b2-01/disabled",
        data={"disabled": "yes", "csrf_token": token},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 303
    assert victim.get(app.url + "/", timeout=30, allow_redirects=False).status_code == 303
    session = browserlike()
    form = session.get(app.url + "/login", timeout=30)
    refused = session.post(
        app.url + "/login",
        data={"username": "resident-b2-01", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        timeout=30,
    )
    assert "spærret" in refused.text and "indeklima_session" not in refused.headers.get(
        "set-cookie", ""
    )


def test_resident_mail_opt_in_export_and_erasure(app: WebApp) -> None:
    resident = login(app, "resident-b1-02")
    page = resident.get(app.url + "/my-data", timeout=30)
    token = csrf_of(page.text)
    bad = resident.post(
        app.url + "/my-data/mail",
        data={"mail": "on", "email": "ikke en adresse", "csrf_token": token},
        timeout=30,
    )
    assert 'id="email-error"' in bad.text and "navn@example.dk" in bad.text
    resident.post(
        app.url + "/my-data/mail",
        data={"mail": "on", "email": "beboer@example.dk", "csrf_token": token},
        timeout=30,
    )
    from cloud.mail.prefs import MailPrefs

    user_id = app.accounts.user("resident-b1-02").id
    with MailPrefs(app.folder / "alerts.sqlite") as prefs:
        assert prefs.opted_in(str(user_id), "B1", "B1-02")
    exported = resident.get(app.url + "/my-data/export.json", timeout=60)
    assert exported.status_code == 200
    data = exported.json()
    # the API's export, called as a function: the readings since moving in (the account was
    # linked to the flat after the test data were written, so none), the consent history
    assert data["readings"] == [] and set(data["consent"]) == {"B1-02"}
    unconfirmed = resident.post(
        app.url + "/my-data/erasure", data={"csrf_token": token}, timeout=30
    )
    assert 'id="confirm-error"' in unconfirmed.text
    asked = resident.post(
        app.url + "/my-data/erasure", data={"confirm": "yes", "csrf_token": token}, timeout=30
    )
    assert "Din anmodning om sletning er modtaget" in asked.text
    assert [e.username for e in app.accounts.erasure_requests(open_only=True)] == ["resident-b1-02"]


def test_admin_completes_the_erasure_and_logout_ends_the_session(app: WebApp) -> None:
    resident = login(app, "resident-b1-01")
    token = csrf_of(resident.get(app.url + "/my-data", timeout=30).text)
    resident.post(
        app.url + "/my-data/erasure", data={"confirm": "yes", "csrf_token": token}, timeout=30
    )
    admin = login(app, "admin")
    users = admin.get(app.url + "/", timeout=30)
    (mine,) = [
        e.id
        for e in app.accounts.erasure_requests(open_only=True)
        if e.username == "resident-b1-01"
    ]
    assert f'action="/users/erasures/{mine}"' in users.text
    # a reading of the resident's tenancy (it began when the test data were made), and the
    # neighbour's at the same time
    moment = datetime.now(UTC) - timedelta(seconds=1)
    at = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1_000
    for flat in ("B1-01", "B1-02"):
        tags = {"building": "B1", "flat": flat, "room": "erasure", "sensor": "erasure"}
        app.store.write([Point(CLIMATE, tags, {"temperature_c": 21.0}, at)])
    done = admin.post(
        app.url + f"/users/erasures/{mine}",
        data={"csrf_token": csrf_of(users.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert done.status_code == 303
    left = app.store.query(
        CLIMATE, moment, moment + timedelta(seconds=1), where={"room": "erasure"}
    )
    assert list(left["flat"]) == ["B1-02"]  # the resident's reading is gone, not the neighbour's
    assert resident.get(app.url + "/", timeout=30, allow_redirects=False).status_code == 303
    out = admin.post(
        app.url + "/logout",
        data={"csrf_token": csrf_of(users.text)},
        timeout=30,
        allow_redirects=False,
    )
    assert out.status_code == 303 and "indeklima_session=" in out.headers["set-cookie"]
    assert admin.get(app.url + "/", timeout=30, allow_redirects=False).status_code == 303


def test_sensor_health_shows_last_reading_and_battery(app: WebApp) -> None:
    page = login(app, "technician").get(app.url + "/health", timeout=30)
    assert page.status_code == 200
    assert page.text.count("B1-01-stue") == 1 and "87 %" in page.text
    assert "B2-01" not in page.text  # not their building


def test_pages_forbid_framing_and_foreign_scripts(app: WebApp) -> None:
    page = browserlike().get(app.url + "/login", timeout=30)
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"


def test_admin_gives_and_takes_a_building(app: WebApp) -> None:
    admin = login(app, "admin")
    page = admin.get(app.url + "/users/technician", timeout=30)
    assert page.status_code == 200 and "Fjern B1" in page.text
    token = csrf_of(page.text)
    added = admin.post(
        app.url + "/users/technician/buildings",
        data={"building": "B2", "action": "add", "csrf_token": token},
        timeout=30,
    )
    assert "Bygningen er tilføjet" in added.text and "Fjern B2" in added.text
    tech = login(app, "technician")
    assert tech.get(app.url + "/flats/B2-01", timeout=30).status_code == 200
    admin.post(
        app.url + "/users/technician/buildings",
        data={"building": "B2", "action": "remove", "csrf_token": token},
        timeout=30,
    )
    assert tech.get(app.url + "/flats/B2-01", timeout=30).status_code == 403
    wrong = admin.post(
        app.url + "/users/resident-b1-02/buildings",
        data={"building": "B2", "action": "add", "csrf_token": token},
        timeout=30,
    )
    assert wrong.status_code == 409  # a resident takes no buildings: the accounts service says
    assert admin.get(app.url + "/users/new", timeout=30).status_code == 200
    assert admin.get(app.url + "/users/nobody-here", timeout=30).status_code == 404


def test_an_acknowledgement_is_shown_to_the_other_technicians_and_audited(app: WebApp) -> None:
    tech = login(app, "technician")
    page = tech.get(app.url + "/alerts", timeout=30)
    alert_id = re.search(r'name="alert_id" value="([^"]+)"', page.text)
    assert alert_id
    empty = tech.post(
        app.url + "/alerts/acknowledge",
        data={
            "alert_id": alert_id.group(1),
            "field": "ack-0",
            "comment": "  ",
            "csrf_token": csrf_of(page.text),
        },
        timeout=30,
    )
    assert 'id="ack-0-comment-error"' in empty.text and 'href="#ack-0-comment"' in empty.text
    done = tech.post(
        app.url + "/alerts/acknowledge",
        data={
            "alert_id": alert_id.group(1),
            "field": "ack-0",
            "comment": "Affugter opsat <b>",
            "csrf_token": csrf_of(page.text),
        },
        timeout=30,
    )
    assert "Kvitteringen er gemt" in done.text
    other = login(app, "technician2").get(app.url + "/alerts", timeout=30)
    assert "Kvitteret af technician" in other.text
    assert "Affugter opsat &lt;b&gt;" in other.text  # escaped, never markup
    from cloud.accounts import AuditQuery

    entries = app.accounts.audit_entries(AuditQuery(action="alert.acknowledged"))
    assert entries and entries[0].username == "technician" and entries[0].flat_id == "B1-01"


def _window_and_diagnosis(app: WebApp) -> None:
    from datetime import UTC, datetime, timedelta

    from cloud.analytics.diagnosis import Cause, Evidence, FlatDiagnosis
    from cloud.jobs.diagnosis_job import diagnosis_points
    from cloud.store.base import Point
    from cloud.window_state import EVENT_MEASUREMENT

    now = datetime.now(UTC)
    tags = {"building": "B1", "flat": "B1-01", "window": "B1-01-w1", "room": "stue"}
    fields: dict[str, str | float] = {
        "rule": "co2_open",
        "tier": "comfort",
        "target_pct": 40.0,
        "text_da": "CO2 over grænsen: vinduet åbnes",
        "text_en": "CO2 above the limit: the window opens",
    }
    older = {**fields, "target_pct": 0.0, "text_da": "Gammel beslutning", "text_en": "Old one"}
    stamp = int((now - timedelta(minutes=10)).timestamp()) * 10**9
    app.store.write(
        [
            Point(EVENT_MEASUREMENT, {**tags, "kind": "decision"}, older, stamp - 60 * 10**9),
            Point(EVENT_MEASUREMENT, {**tags, "kind": "decision"}, fields, stamp),
        ]
    )
    evidence = Evidence(Cause.HABITS, "airing_events", 0.0, 3.0, "", "Ingen udluftning", "None")
    found = FlatDiagnosis(
        causes=(Cause.HABITS,),
        air_change_per_h=0.5,
        moisture_g_per_h=120.0,
        airing_events=0,
        airing_hours=0.0,
        surface_rh_hours_above_75=3.0,
        surface_rh_hours_above_80=0.0,
        frsi=0.7,
        frsi_fitted=False,
        mean_temperature_c=20.5,
        window_faults=0,
        evidence=(evidence,),
    )
    app.store.write(diagnosis_points("B1", now - timedelta(hours=1), {"B1-01": found}))


def test_technician_flat_page_shows_windows_set_points_and_diagnosis(app: WebApp) -> None:
    _window_and_diagnosis(app)
    tech = login(app, "technician")
    page = tech.get(app.url + "/flats/B1-01", timeout=30)
    assert page.status_code == 200, page.text[:500]
    text = page.text
    assert "<h2>Vinduer</h2>" in text and "B1-01-w1" in text
    assert "CO2 over grænsen: vinduet åbnes" in text and "Gammel beslutning" not in text
    assert "co2_open" in text and "40 %" in text
    assert '<th scope="row">B1-01-w1</th>' in text
    # no window control in this app: a plain sentence, not an error
    assert "<h2>Sætpunkter</h2>" in text and "Vinduesstyring er ikke sat op" in text
    assert "Ugens diagnose" in text and "Vaner" in text
    # no consent: the evidence is not shown
    assert "data-evidence" not in text and "Ingen udluftning" not in text
    assert "kun mens beboerne giver samtykke" in text
    english = tech.get(app.url + "/lang/en?next=/flats/B1-01", timeout=30)
    assert "CO2 above the limit: the window opens" in english.text
    assert "Window control is not set up" in english.text
    tech.get(app.url + "/lang/da?next=/", timeout=30)


def test_technician_flat_page_without_window_data_says_so(app: WebApp) -> None:
    tech = login(app, "technician")
    page = tech.get(app.url + "/flats/B1-02", timeout=30)
    assert page.status_code == 200 and "Traceback" not in page.text
    assert "Ingen vinduesbeslutninger" in page.text
    assert "Ingen diagnose for denne lejlighed" in page.text
    assert "Vinduesstyring er ikke sat op" in page.text


def test_diagnosis_evidence_shown_only_with_consent_and_audited(app: WebApp) -> None:
    from cloud.accounts import AuditQuery, Role

    _window_and_diagnosis(app)
    tech = login(app, "technician")
    name = "resident-b1-01-evidence"  # its own resident: another test erases resident-b1-01
    app.accounts.create_user(name, Role.RESIDENT, PASSWORD, display_name="Beboer B1-01")
    app.accounts.add_resident(name, "B1-01")
    resident = login(app, name)
    form = resident.get(app.url + "/my-data", timeout=30)
    for answer in ("yes", "no"):
        saved = resident.post(
            app.url + "/my-data/consent",
            data={"staff_detail": answer, "csrf_token": csrf_of(form.text)},
            timeout=30,
            allow_redirects=False,
        )
        assert saved.status_code == 303
        page = tech.get(app.url + "/flats/B1-01", timeout=30).text
        if answer == "yes":
            assert "data-evidence" in page and "Ingen udluftning" in page
            reads = app.accounts.audit_entries(
                AuditQuery(flat_id="B1-01", action="flat.detail_read")
            )
            assert any((e.detail or {}).get("what") == "diagnosis evidence" for e in reads)
        else:
            assert "data-evidence" not in page and "Ingen udluftning" not in page


def test_technician_flat_page_shows_the_buildings_set_points(tmp_path: Any) -> None:
    from cloud.setpoint_book import SetpointBook

    book = SetpointBook(tmp_path / "setpoints.json")
    book.save(
        "gw-b1",
        [
            {"building": "B1", "values": {"co2_open_ppm": 900.0}},
            {"building": "B1", "flat": "B1-01", "room": "stue", "values": {"rh_open_pct": 70.0}},
        ],
    )
    control = object()  # only its presence matters to the read-only page
    for served in web_app(tmp_path, {"control": control, "setpoint_book": book}):
        tech = login(served, "technician")
        page = tech.get(served.url + "/flats/B1-01", timeout=30)
        assert page.status_code == 200, page.text[:500]
        assert "Bygningens aktuelle sætpunkter" in page.text
        assert "<code>co2_open_ppm</code>" in page.text and "<td>900</td>" in page.text
        assert "<code>rh_open_pct</code>" in page.text and "stue (B1-01)" in page.text
        assert "Vinduesstyring er ikke sat op" not in page.text
        empty = login(served, "technician").get(served.url + "/flats/B1-02", timeout=30)
        assert "<code>co2_open_ppm</code>" in empty.text  # the building's set points


def in_force_run(app: WebApp) -> int:
    """The approved run in force for B1 in January 2026: made (drafted and checked by finance,
    approved by finance2) unless an earlier test made it."""
    from cloud.settlement.runs import RunStore

    runs = RunStore(f"sqlite:///{app.folder / 'runs.db'}")
    try:
        january = (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 31, 23, tzinfo=UTC))
        current = runs.in_force("B1", *january)
        if current is not None:
            return current.id
    finally:
        runs.close()
    fin = login(app, "finance")
    token = csrf_of(fin.get(app.url + "/buildings/B1/settlements/new", timeout=30).text)
    saved = fin.post(
        app.url + "/buildings/B1/settlements/new",
        data={
            "period_start": "2026-01",
            "period_end": "2026-01",
            "total_cost": "30.000,00",
            "action": "save",
            "csrf_token": token,
        },
        timeout=60,
        allow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    run = saved.headers["location"]
    fin.post(app.url + run + "/check", data={"csrf_token": token}, timeout=30)
    fin2 = login(app, "finance2")
    token2 = csrf_of(fin2.get(app.url + run, timeout=30).text)
    fin2.post(app.url + run + "/approve", data={"csrf_token": token2}, timeout=60)
    return int(run.rsplit("/", 1)[1])


def test_a_correction_of_an_approved_run_goes_through_four_eyes_and_supersedes_it(
    app: WebApp,
) -> None:
    old = in_force_run(app)
    fin = login(app, "finance")
    run_page = fin.get(app.url + f"/buildings/B1/settlements/{old}", timeout=30)
    assert "I kraft" in run_page.text and f"/settlements/{old}/correct" in run_page.text
    form = fin.get(app.url + f"/buildings/B1/settlements/{old}/correct", timeout=30)
    assert form.status_code == 200 and 'value="30.000,00"' in form.text  # the run's own cost
    token = csrf_of(form.text)
    url = app.url + f"/buildings/B1/settlements/{old}/correct"
    no_csrf = fin.post(url, data={"reason": "x", "total_cost": "31.000,00"}, timeout=30)
    assert no_csrf.status_code == 403
    missing = fin.post(url, data={"total_cost": "250.000", "csrf_token": token}, timeout=30)
    assert 'id="reason-error"' in missing.text and "Skriv hvorfor" in missing.text
    assert 'id="total_cost-error"' in missing.text  # both errors at once, in Danish
    fields = {"reason": "Fjernvarmen rettede slutregningen", "total_cost": "31.500,00"}
    preview = fin.post(url, data={**fields, "csrf_token": token}, timeout=60)
    assert 'id="preview"' in preview.text and "Gem korrektionen som kladde" in preview.text
    saved = fin.post(
        url,
        data={**fields, "action": "save", "csrf_token": token},
        timeout=60,
        allow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    new_url = saved.headers["location"]
    new = int(new_url.rsplit("/", 1)[1])
    draft = fin.get(app.url + new_url, timeout=30)
    assert f"Korrektion af kørsel {old}" in draft.text and fields["reason"] in draft.text
    fin.post(app.url + new_url + "/check", data={"csrf_token": token}, timeout=30)
    refused = fin.post(app.url + new_url + "/approve", data={"csrf_token": token}, timeout=30)
    assert "kan ikke også godkende" in refused.text  # the drafter and checker cannot approve
    fin2 = login(app, "finance2")
    token2 = csrf_of(fin2.get(app.url + new_url, timeout=30).text)
    approved = fin2.post(app.url + new_url + "/approve", data={"csrf_token": token2}, timeout=60)
    assert approved.status_code == 200 and "badge-success" in approved.text
    listing = fin2.get(app.url + "/", timeout=30).text
    rows = {
        int(m.group(1)): m.group(0)
        for m in re.finditer(r'settlements/(\d+)">.*?</tr>', listing, flags=re.S)
    }
    assert "I kraft" in rows[new] and f"Korrektion af kørsel {old}" in rows[new]
    assert "Erstattet" in rows[old] and f"af kørsel {new}" in rows[old]
    superseded = fin2.get(app.url + f"/buildings/B1/settlements/{old}", timeout=30).text
    assert f"/settlements/{old}/correct" not in superseded  # only the run in force is corrected
    again = fin2.get(app.url + f"/buildings/B1/settlements/{old}/correct", timeout=30)
    assert again.status_code == 404
    from cloud.accounts import Role

    reader = f"resident-{uuid.uuid4().hex[:8]}"  # other tests erase and disable residents
    app.accounts.create_user(reader, Role.RESIDENT, PASSWORD)
    app.accounts.add_resident(reader, "B1-02")
    heating = login(app, reader).get(app.url + "/heating", timeout=30).text
    items = {
        int(m.group(1)): m.group(0) for m in re.finditer(r"statements/(\d+)\.pdf.*?</li>", heating)
    }
    assert "– korrektion" in items[new] and "erstattet" not in items[new]
    assert "erstattet af en korrektion" in items[old]
    import io
    import zipfile

    from openpyxl import load_workbook
    from pypdf import PdfReader

    csv = fin2.get(app.url + new_url + "/download/csv", timeout=30).content.decode("utf-8-sig")
    header, *lines = csv.splitlines()
    assert header.endswith("run_id;supersedes_run_id") and lines
    assert all(line.endswith(f";{new};{old}") for line in lines)
    xlsx = fin2.get(app.url + new_url + "/download/xlsx", timeout=60).content
    title = str(load_workbook(io.BytesIO(xlsx)).worksheets[0]["A1"].value)
    assert f"korrektion: kørsel {new} erstatter kørsel {old}" in title
    zipped = fin2.get(app.url + new_url + "/download/pdf.zip", timeout=60)

    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        first = archive.read(archive.namelist()[0])
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(first)).pages)
    assert f"korrektion af kørsel {old}" in text and fields["reason"] in text


def test_a_correction_in_english_shows_its_errors_in_english(app: WebApp) -> None:
    old = in_force_run(app)
    fin = login(app, "finance")
    fin.get(app.url + "/lang/en?next=/", timeout=30)
    url = app.url + f"/buildings/B1/settlements/{old}/correct"
    token = csrf_of(fin.get(url, timeout=30).text)
    answer = fin.post(url, data={"total_cost": "1", "csrf_token": token}, timeout=60)
    assert "Write why the run is corrected" in answer.text
