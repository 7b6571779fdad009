"""The resident's pages: "nu" (rooms now, mould risk, alerts) and the charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud.accounts.gdpr import DELETED, KEPT
from cloud.accounts.http import client_address
from cloud.accounts.principal import Principal, Role
from cloud.accounts.scope import (
    FlatView,
    check_flat,
    in_own_period,
    own_periods,
    readable_window,
)
from cloud.mail.prefs import MailPrefs
from cloud.settlement.names import safe_stem
from cloud.settlement.runs import RunNotFound, RunState
from cloud.web.common import (
    FORM_ERRORS,
    PageDenied,
    PageUser,
    accounts_of,
    check_csrf,
    guarded,
    in_language,
    page,
)
from cloud.web.data import climate_rooms, latest_by_room, mould_by_room
from cloud.web.i18n import gettext, language_of
from cloud.web.session import WebSession
from cloud.web.texts import ALERT_KINDS, N_, QUANTITY_LABELS, RANGES, SEVERITIES
from cloud.web.views import QUANTITIES, Series, chart_payload, rooms_now

router = APIRouter(include_in_schema=False)

RANGE_SPANS: Final = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=31),
    "year": timedelta(days=365),
}


def resident_flat(user: WebSession, flat: str | None) -> tuple[str, str]:
    """The (building, flat) the resident asked for, or their first; refused like the API."""
    principal = user.principal
    pairs = sorted(principal.flats)
    if not pairs:
        raise PageDenied(
            404,
            "Du er ikke knyttet til en lejlighed; kontakt administrator / you are not linked "
            "to a flat; contact your administrator",
        )
    if flat is None:
        return pairs[0]
    building = next((b for b, f in pairs if f == flat), "")
    guarded(lambda: check_flat(principal, building, flat, FlatView.DETAIL, consented=False))
    return building, flat


def now_page(request: Request, user: WebSession, flat: str | None = None) -> Response:
    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    context = request.app.state.context
    if flat is None and not user.principal.flats and user.principal.residences:
        return RedirectResponse("/my-data", status_code=303)  # moved out: their own data
    building, flat_id = resident_flat(user, flat)
    now = datetime.now(UTC)
    first, _ = readable_window(user.principal, flat_id, now - timedelta(days=1), now)
    rooms = rooms_now(latest_by_room(context.store, building, flat_id, now, first), now)
    mould = mould_by_room(context.store, building, flat_id, now)
    alerts = [a for a in context.alerts.query(building=building, flat=flat_id) if a.open]
    return page(
        request,
        user,
        "resident/now.html",
        {
            "flat": flat_id,
            "flats": sorted(f for _b, f in user.principal.flats),
            "rooms": rooms,
            "mould": mould,
            "alerts": alerts,
            "labels": QUANTITY_LABELS,
            "alert_kinds": ALERT_KINDS,
            "severities": SEVERITIES,
            "now": now,
        },
    )


@router.get("/charts")
def charts(
    request: Request, user: PageUser, range: str = "week", flat: str | None = None
) -> Response:
    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    building, flat_id = resident_flat(user, flat)
    return page(
        request,
        user,
        "resident/charts.html",
        {"flat": flat_id, **chart_data(request, user.principal, building, flat_id, range)},
    )


def chart_data(
    request: Request, principal: Principal, building: str, flat_id: str, range: str
) -> dict[str, Any]:
    """The charts' data for a flat (the caller has checked that the person may see it); a
    resident's clipped to their tenancy (`scope.readable_window`): an hourly or daily point
    that begins before they moved in is left out, as it holds earlier residents' readings."""
    chosen = range if range in RANGE_SPANS else "week"
    end = datetime.now(UTC)
    asked = end - RANGE_SPANS[chosen]
    start, end = readable_window(principal, flat_id, asked, end)
    series: list[Series] = []
    resolution = "raw"
    if start < end:  # the resolution of the range asked for, as the API's climate endpoint
        series, resolution = climate_rooms(
            request.app.state.context.store,
            building,
            flat_id,
            asked,
            end,
            not_before=start if start > asked else None,
        )
    return {
        "range": chosen,
        "ranges": RANGES,
        "labels": QUANTITY_LABELS,
        "charts": {q: chart_payload(series, f"{q}_mean") for q in QUANTITIES},
        "resolution": resolution,
        "has_data": any(s.time for s in series),
    }


@router.get("/my-data")
def my_data(request: Request, user: PageUser, saved: str | None = None) -> Response:
    return _my_data_page(request, user, saved=saved)


def _my_data_page(
    request: Request,
    user: WebSession,
    *,
    saved: str | None = None,
    email: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    accounts = accounts_of(request)
    principal = user.principal
    moved_out = [
        r for r in own_periods(principal, accounts.now()) if not principal.lives_in(r.flat)
    ]
    if not principal.flats and not moved_out:
        resident_flat(user, None)  # refused: linked to no flat, now or before
    building, flat_id = sorted(principal.flats)[0] if principal.flats else ("", None)
    tenancy = next((r for r in principal.residences if r.flat == flat_id), None)
    prefs = _mail_prefs(request)
    subscriber = str(principal.user_id)
    pending = [
        e for e in accounts.erasure_requests(open_only=True) if e.username == principal.username
    ]
    history = (
        [c for c in accounts.consent_history(flat_id) if in_own_period(tenancy, c.at)]
        if flat_id is not None and tenancy is not None
        else []
    )
    return page(
        request,
        user,
        "resident/my_data.html",
        {
            "flat": flat_id,
            "moved_out": ", ".join(r.flat for r in moved_out),
            "consent": accounts.consent(flat_id) if flat_id is not None else None,
            "history": history[-10:][::-1],
            "saved": saved,
            "errors": errors or {},
            "mail_on": prefs.opted_in(subscriber, building, flat_id)
            if prefs and flat_id is not None
            else None,
            "email": email,
            "erasure": pending[0] if pending else None,
            "kept": [in_language(k, language_of(request)) for k in KEPT],
            "deleted": [in_language(d, language_of(request)) for d in DELETED],
        },
        status_code=status_code,
    )


def _mail_prefs(request: Request) -> MailPrefs | None:
    prefs: MailPrefs | None = getattr(request.app.state, "mail_prefs", None)
    return prefs


MAX_EMAIL_CHARS: Final = 254


def valid_email(address: str) -> bool:
    """One address as people type it (RFC 5321 length; one @, a dot in the domain, no spaces
    or line breaks); the mail server has the last word."""
    local, at, domain = address.partition("@")
    return (
        bool(at)
        and 0 < len(local) <= 64
        and "." in domain.strip(".")
        and "@" not in domain
        and len(address) <= MAX_EMAIL_CHARS
        and not any(ch.isspace() or ord(ch) < 32 for ch in address)
    )


@router.post("/my-data/mail")
def set_mail(
    request: Request,
    user: PageUser,
    mail: Annotated[str, Form(max_length=10)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Alert e-mails for the resident's flat on or off (issue 10b's `MailPrefs`)."""
    check_csrf(request, user, csrf_token)
    building, flat_id = resident_flat(user, None)
    principal = user.principal
    guarded(
        lambda: check_flat(principal, building, flat_id, FlatView.CONSENT_WRITE, consented=False)
    )
    prefs = _mail_prefs(request)
    if prefs is None:
        raise PageDenied(503, "E-mail er ikke sat op / e-mail is not set up")
    lang = language_of(request)
    address = email.strip()
    if mail not in ("on", "off"):
        errors = {"mail-on": gettext(lang, N_("Choose on or off"))}
        return _my_data_page(request, user, errors=errors, email=address, status_code=FORM_ERRORS)
    if mail == "on" and not valid_email(address):
        errors = {"email": gettext(lang, N_("Enter an e-mail address like name@example.dk"))}
        return _my_data_page(request, user, errors=errors, email=address, status_code=FORM_ERRORS)
    subscriber = str(principal.user_id)
    if mail == "off" and not prefs.opted_in(subscriber, building, flat_id):
        return RedirectResponse("/my-data?saved=mail", status_code=303)
    prefs.set_opt_in(
        subscriber,
        building,
        flat_id,
        email=address if mail == "on" else (address or "off@invalid.example"),
        enabled=mail == "on",
    )
    return RedirectResponse("/my-data?saved=mail", status_code=303)


@router.get("/my-data/export.{kind}")
def export_my_data(request: Request, user: PageUser, kind: str) -> Response:
    """Everything stored about me and my flat: the API's own export (`/api/me/export`), called
    as a function with this person, never over HTTP."""
    from cloud.api.routes.me import export

    if kind not in ("json", "csv"):
        raise PageDenied(404, "Ukendt format / unknown format")
    context = request.app.state.context
    return export(
        principal=user.principal,
        request=request,
        accounts=accounts_of(request),
        store=context.store,
        registry=context.registry,
        alerts=context.alerts,
        runs=context.runs,
        documents=context.documents,
        format="json" if kind == "json" else "csv",
    )


@router.post("/my-data/erasure")
def request_erasure(
    request: Request,
    user: PageUser,
    confirm: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    if confirm != "yes":
        lang = language_of(request)
        errors = {"confirm": gettext(lang, N_("Tick the box to confirm that you ask for erasure"))}
        return _my_data_page(request, user, errors=errors, status_code=FORM_ERRORS)
    accounts_of(request).request_erasure(user.principal, address=client_address(request))
    return RedirectResponse("/my-data?saved=erasure", status_code=303)


@router.post("/my-data/consent")
def set_consent(
    request: Request,
    user: PageUser,
    staff_detail: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    building, flat_id = resident_flat(user, None)
    principal = user.principal
    if staff_detail not in ("yes", "no"):
        lang = language_of(request)
        return _my_data_page(
            request,
            user,
            errors={"staff_detail-yes": gettext(lang, N_("Choose yes or no"))},
            status_code=FORM_ERRORS,
        )
    guarded(
        lambda: check_flat(principal, building, flat_id, FlatView.CONSENT_WRITE, consented=False)
    )
    accounts_of(request).set_consent(
        principal,
        flat_id,
        staff_detail == "yes",
        address=client_address(request),
    )
    return RedirectResponse("/my-data?saved=consent", status_code=303)


@router.get("/heating")
def heating(request: Request, user: PageUser) -> Response:
    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    context = request.app.state.context
    building, flat_id = resident_flat(user, None)
    principal = user.principal
    guarded(lambda: check_flat(principal, building, flat_id, FlatView.HEAT_SHARE, consented=False))
    estimate = _api_heat_share(request, user, flat_id)
    budget = context.registry.building(building).heating_budget_dkk_per_month
    return page(
        request,
        user,
        "resident/heating.html",
        {
            "flat": flat_id,
            "estimate": estimate,
            "budget_dkk": budget,
            "statements": statements_of(request, building, flat_id),
        },
    )


def _api_heat_share(request: Request, user: WebSession, flat_id: str) -> Any:
    """The resident's running estimate from the API's own function (``GET
    /api/flats/{id}/heat-share``), called with this person, never over HTTP; None when there is
    none yet (no budget, no whole day of data: the API's 409)."""
    from fastapi import HTTPException

    from cloud.api.deps import find_flat
    from cloud.api.routes.flats import heat_share

    context = request.app.state.context
    ref = find_flat(context.registry, flat_id)
    if ref is None:
        return None
    try:
        return heat_share(
            principal=user.principal,
            request=request,
            ref=ref,
            accounts=accounts_of(request),
            store=context.store,
            registry=context.registry,
            tariff=context.tariff,
            month=None,
        )
    except HTTPException as exc:
        if exc.status_code == 409:
            return None
        raise


def statements_of(request: Request, building: str, flat_id: str) -> list[dict[str, Any]]:
    """The flat's statements: approved runs of its building that include it, newest first; a
    correction says so, and a statement a correction replaced is marked superseded."""
    from cloud.web.pages.finance import period_date, standing

    runs = request.app.state.context.runs
    records = runs.of_building(building)
    standings = standing(runs, records)
    return [
        {
            "href": f"/heating/statements/{r.id}.pdf",
            "start": period_date(r.period_start),
            "end": period_date(r.period_end, end=True),
            "correction": r.supersedes is not None,
            "superseded": standings.get(r.id, ("", None))[0] == "superseded",
        }
        for r in records
        if r.state is RunState.APPROVED and flat_id in r.coverage_pct
    ][:10]


@router.get("/heating/statements/{run_id}.pdf")
def statement_pdf(request: Request, user: PageUser, run_id: int) -> Response:
    """The resident's own statement of an approved run (the same kept PDF finance downloads)."""
    from cloud.api.documents import statement_name
    from cloud.api.routes.settlements import _document

    if user.principal.role is not Role.RESIDENT:
        raise PageDenied(403, "Kun for beboere / residents only")
    building, flat_id = resident_flat(user, None)
    principal = user.principal
    guarded(lambda: check_flat(principal, building, flat_id, FlatView.HEAT_SHARE, consented=False))
    context = request.app.state.context
    try:
        record = context.runs.get(run_id) if 1 <= run_id < 2**63 else None
    except RunNotFound:
        record = None
    if (
        record is None
        or record.building_id != building
        or record.state is not RunState.APPROVED
        or flat_id not in record.coverage_pct
    ):
        raise PageDenied(
            404, "Opgørelsen findes ikke for din lejlighed / no such statement for your flat"
        )
    content = _document(context, record, statement_name(flat_id))
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": "attachment; filename="
            f'"varmeregnskab_{safe_stem(flat_id)}_{run_id}.pdf"'
        },
    )
