"""The pages in real headless Chromium (Debian's, via Playwright): each role logs in through the
form, clicks through its start page and main flows; every page visited has no console errors
and no axe-core (WCAG 2.1 A/AA) violations, fits a 390 px phone, and is saved as phone and
desktop screenshots under test-artefacts/. Kept to one test per role (CI has 2 cores)."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web_app import PASSWORD, WebApp, web_app
from tests.web_browser import PHONE, Tab, browser, check_page, open_tab

__all__ = ["browser"]  # the fixture


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    yield from web_app(tmp_path_factory.mktemp("webui"))


@pytest.fixture
def tab(browser: Any, app: WebApp) -> Iterator[Tab]:
    opened = open_tab(browser, app.url)
    yield opened
    opened.close()


def log_in(tab: Tab, username: str, password: str = PASSWORD) -> None:
    page = tab.page
    tab.goto("/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(password)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))


def test_login_page_with_errors_and_the_session_cookie(tab: Tab, app: WebApp) -> None:
    page = tab.page
    tab.goto("/login")
    page.keyboard.press("Tab")  # keyboard users meet the skip link first
    assert page.evaluate("document.activeElement.className") == "skipnav"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main-content")
    page.keyboard.press("Tab")  # from <main> straight to the form's first field
    assert page.evaluate("document.activeElement.id") == "username"
    page.get_by_role("button", name="Log ind").click()
    summary = page.locator("#error-summary")
    assert "Skriv dit brugernavn" in summary.inner_text()
    check_page(tab, "login-errors")
    page.get_by_label("Brugernavn").fill("resident-b1-01")
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_url(tab.base_url + "/")
    cookie = next(c for c in tab.context.cookies() if c["name"] == "indeklima_session")
    # Chromium accepted and sends the Secure cookie over http://127.0.0.1 (a secure context)
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.locator("h1").inner_text() == "Dit indeklima nu"


def test_resident_now_charts_consent_heating_and_english(tab: Tab, app: WebApp) -> None:
    page = tab.page
    page.set_viewport_size(PHONE)
    log_in(tab, "resident-b1-01")
    rooms = page.locator(".room")
    assert rooms.count() == 2
    assert "Der er fugtigt" in page.locator(".room", has_text="sovevaerelse").inner_text()
    assert "Risiko for skimmel" in page.content()
    check_page(tab, "resident-now")
    page.get_by_role("link", name="Grafer").first.click()
    page.get_by_role("link", name="Døgn").click()
    page.wait_for_selector("#chart-temperature_c .uplot canvas")
    check_page(tab, "resident-charts-day")
    page.get_by_role("link", name="År").click()
    page.wait_for_load_state("load")
    check_page(tab, "resident-charts-year")
    page.get_by_role("link", name="Mine data og samtykke").first.click()
    page.get_by_label("Ja, de må se de detaljerede målinger").check()
    page.get_by_role("button", name="Gem mit valg").click()
    assert "Dit valg er gemt" in page.locator("[role=status]").inner_text()
    assert app.accounts.consented("B1-01")
    check_page(tab, "resident-my-data")
    page.get_by_role("link", name="Varmeregnskab").first.click()
    assert page.locator("h1").inner_text() == "Varmeregnskab"
    check_page(tab, "resident-heating")
    page.get_by_role("link", name="English").click()
    page.wait_for_selector("html[lang=en]")
    assert page.locator("h1").inner_text() == "Heating account"
    tab.goto("/")
    assert page.locator("h1").inner_text() == "Your indoor climate now"  # remembered
    check_page(tab, "resident-now-en")
    page.get_by_role("link", name="Dansk").click()
    page.wait_for_selector("html[lang=da]")


def test_technician_estate_flat_alert_and_health(tab: Tab, app: WebApp) -> None:
    app.accounts.set_consent(
        _principal(app, "resident-b1-01"), "B1-01", True
    )  # as the resident did above (tests may run alone)
    page = tab.page
    log_in(tab, "technician")
    assert page.locator("h1").inner_text() == "Bygninger"
    tiles = page.locator(".flat-tile")
    assert tiles.count() == 2  # B1 only: B2 is not theirs
    assert "Samtykke: detaljer kan ses" in tiles.filter(has_text="B1-01").inner_text()
    assert "Intet samtykke" in tiles.filter(has_text="B1-02").inner_text()
    check_page(tab, "technician-start")
    page.get_by_role("link", name="B1-01").click()
    page.get_by_role("link", name="Døgn").click()
    page.wait_for_selector("#chart-co2_ppm .uplot canvas")
    check_page(tab, "technician-flat-consented")
    tab.goto("/flats/B1-02")
    assert page.locator("[data-chart]").count() == 0
    check_page(tab, "technician-flat-no-consent")
    page.get_by_role("link", name="Alarmer").first.click()
    page.get_by_role("button", name="Kvittér").first.click()
    assert "Skriv en kommentar" in page.locator("#error-summary").inner_text()
    check_page(tab, "technician-alert-error")
    page.get_by_label("Kommentar: hvad er gjort eller aftalt").first.fill(
        "Ringet til beboeren; affugter sat op i soveværelset"
    )
    page.get_by_role("button", name="Kvittér").first.click()
    assert "Kvitteringen er gemt" in page.locator("[role=status]").inner_text()
    assert "affugter sat op" in page.content()
    check_page(tab, "technician-alerts")
    page.get_by_role("link", name="Målernes tilstand").first.click()
    assert page.locator("table").count() == 2
    check_page(tab, "technician-health")


def test_technician_sees_a_gateways_outbox_on_the_health_page(
    tab: Tab, app: WebApp, tmp_path: Path
) -> None:
    """The gateway's retained status through a real Mosquitto and ingest into the app's store,
    then on the page: outbox, dropped readings, silent sensors; stale once it goes offline."""
    from cloud.deadletter import DeadLetters
    from cloud.ingest import Ingest
    from cloud.servers import MosquittoServer
    from edge.mqtt import MqttConnection
    from edge.wire import GatewayStatus, SensorHealth, encode, status_topic
    from tests.test_gateway_status import WEB_REGISTRY

    now_ms = int(time.time() * 1000)
    sensors = [
        SensorHealth(sensor="B1-01-stue", last_seen_ms=now_ms, silent=False),
        SensorHealth(sensor="B1-02-stue", last_seen_ms=now_ms - 3_600_000, silent=True),
    ]
    online = GatewayStatus(
        v=1, gateway="gw-b1", online=True, time_ms=now_ms, outbox_pending=1234,
        outbox_dropped=56, sensors=sensors,
    )  # fmt: skip
    will = GatewayStatus(v=1, gateway="gw-b1", online=False, time_ms=0)
    page = tab.page
    log_in(tab, "technician")
    with (
        MosquittoServer(tmp_path / "mosquitto") as broker,
        DeadLetters(tmp_path / "dead.sqlite") as dead,
        Ingest(app.store, WEB_REGISTRY, dead, mqtt_url=broker.url) as ingest,
        MqttConnection(broker.url, "gw-b1") as gateway,
    ):
        assert ingest.conn.wait_subscribed(10) and gateway.wait_connected(10)
        row = page.locator('tr[data-gateway="gw-b1"]')
        for message, shown in ((online, "1.234 målinger"), (will, "Offline")):
            gateway.publish(status_topic("gw-b1"), encode(message), retain=True)
            deadline = time.monotonic() + 30
            while True:
                tab.goto("/health")
                if shown in row.inner_text():
                    break
                assert time.monotonic() < deadline, f"{shown!r} not shown: {row.inner_text()}"
                time.sleep(0.2)
            text = row.inner_text()
            assert "1.234 målinger" in text and "56" in text and "B1-02-stue" in text
            check_page(
                tab, "technician-health-gateway-" + ("online" if message.online else "offline")
            )
        assert "Online" not in text and "Offline" in text  # the last figures, marked offline
        assert dead.count() == 0


def test_finance_draft_check_and_approve_by_two_people(
    tab: Tab, browser: Any, app: WebApp, tmp_path: Path
) -> None:
    page = tab.page
    log_in(tab, "finance")
    assert page.locator("h1").inner_text() == "Varmeregnskaber"
    check_page(tab, "finance-start")
    page.get_by_role("link", name="Ny kladde for B1").click()
    page.get_by_label("Første måned").fill("2026-01")
    page.get_by_label("Sidste måned").fill("2026-01")
    page.get_by_label("Bygningens samlede varmeudgift (kr.)").fill("250.000")
    page.get_by_role("button", name="Vis forhåndsvisning").click()
    assert "decimalkomma" in page.locator("#total_cost-error").inner_text()
    check_page(tab, "finance-draft-error")
    page.get_by_label("Bygningens samlede varmeudgift (kr.)").fill("30.000,00")
    page.get_by_role("button", name="Vis forhåndsvisning").click()
    assert page.locator("#preview tbody tr").count() == 2
    check_page(tab, "finance-draft-preview")
    page.get_by_role("button", name="Gem som kladde").click()
    page.get_by_role("button", name="Markér som kontrolleret").click()
    page.get_by_role("button", name="Godkend").click()
    assert "kan ikke også godkende" in page.locator("[role=alert]").inner_text()
    check_page(tab, "finance-run-refused")
    run_url = page.url.removesuffix("/approve")  # the refusal is shown at the POST's address
    other = open_tab(browser, app.url)
    try:
        log_in(other, "finance2")
        other.page.goto(run_url)
        other.page.get_by_role("button", name="Godkend").click()
        assert "Godkendt" in other.page.locator(".key-figures").inner_text()
        with other.page.expect_download() as info:
            other.page.get_by_role("link", name="Alle opgørelser (PDF, zip)").click()
        saved = tmp_path / "statements.zip"
        info.value.save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            names = archive.namelist()
            assert len(names) == 2
            assert archive.read(names[0]).startswith(b"%PDF")
        check_page(other, "finance-run-approved")
    finally:
        other.close()


def test_finance_corrects_an_approved_run_and_a_second_person_approves(
    tab: Tab, browser: Any, app: WebApp
) -> None:
    from tests.test_web_pages import in_force_run

    old = in_force_run(app)
    page = tab.page
    log_in(tab, "finance")
    tab.goto(f"/buildings/B1/settlements/{old}")
    assert "I kraft" in page.locator(".key-figures").inner_text()
    page.get_by_role("link", name="Ret / korrigér kørslen").click()
    page.get_by_role("button", name="Vis forhåndsvisning").click()
    assert "Skriv hvorfor kørslen korrigeres" in page.locator("#error-summary").inner_text()
    assert "Skriv hvorfor" in page.locator("#reason-error").inner_text()
    check_page(tab, "finance-correction-error")
    page.get_by_label("Hvorfor korrigeres kørslen?").fill("Leverandøren rettede slutregningen")
    page.get_by_label("Bygningens samlede varmeudgift (kr.)").fill("31.250,00")
    page.get_by_role("button", name="Vis forhåndsvisning").click()
    assert page.locator("#preview tbody tr").count() == 2
    check_page(tab, "finance-correction-preview")
    page.get_by_role("button", name="Gem korrektionen som kladde").click()
    assert f"Korrektion af kørsel {old}" in page.locator(".key-figures").inner_text()
    page.get_by_role("button", name="Markér som kontrolleret").click()
    check_page(tab, "finance-correction-checked")
    run_url = page.url
    new = int(run_url.rsplit("/", 1)[1])
    other = open_tab(browser, app.url)
    try:
        log_in(other, "finance2")
        other.page.goto(run_url)
        other.page.get_by_role("button", name="Godkend").click()
        assert "Godkendt" in other.page.locator(".key-figures").inner_text()
        check_page(other, "finance-correction-approved")
        other.goto("/")
        rows = other.page.locator("tbody tr")
        new_row = rows.filter(has=other.page.get_by_role("link", name=f"Kørsel {new}", exact=True))
        old_row = rows.filter(has=other.page.get_by_role("link", name=f"Kørsel {old}", exact=True))
        assert "I kraft" in new_row.inner_text()
        assert f"Korrektion af kørsel {old}" in new_row.inner_text()
        assert f"Erstattet af kørsel {new}" in " ".join(old_row.inner_text().split())
        check_page(other, "finance-runs-superseded")
    finally:
        other.close()


def test_admin_users_invitation_and_new_user_errors(tab: Tab, browser: Any, app: WebApp) -> None:
    page = tab.page
    log_in(tab, "admin")
    assert page.locator("h1").inner_text() == "Brugere"
    check_page(tab, "admin-start")
    page.get_by_role("link", name="technician", exact=True).click()
    assert "Fjern B1" in page.content()
    check_page(tab, "admin-user")
    page.get_by_role("link", name="Brugere").first.click()
    page.get_by_role("link", name="Invitér en beboer").first.click()
    page.get_by_label("Brugernavn").fill("beboer-b1-02-b")
    page.get_by_label("Navn", exact=True).fill("Anden Beboer")
    page.get_by_label("Lejlighed").select_option("B1-02")
    page.get_by_role("button", name="Opret invitationen").click()
    code = page.locator("#invite-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    check_page(tab, "admin-letter")
    resident = open_tab(browser, app.url, viewport=PHONE)
    try:  # the letter's reader activates the account on a phone
        resident.goto("/login")
        resident.page.get_by_role("link", name="Aktivér din konto").click()
        resident.page.get_by_label("Brugernavn").fill("beboer-b1-02-b")
        resident.page.get_by_label("Aktiveringskode").fill(code.lower())
        resident.page.get_by_label("Vælg en adgangskode").fill("mit-eget-kodeord")
        check_page(resident, "resident-activate")
        resident.page.get_by_role("button", name="Aktivér").click()
        resident.page.wait_for_url(app.url + "/")
        assert resident.page.locator("h1").inner_text() == "Dit indeklima nu"
        check_page(resident, "resident-activated")
    finally:
        resident.close()
    page.get_by_role("link", name="Ny medarbejder").first.click()
    page.get_by_role("button", name="Opret brugeren").click()
    assert page.locator("#error-summary li").count() == 2  # user name, password
    check_page(tab, "admin-new-user-errors")


def _principal(app: WebApp, username: str) -> Any:
    token, principal = app.accounts.login(username, PASSWORD, "127.0.0.1")
    app.accounts.logout(token)
    return principal
