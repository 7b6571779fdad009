"""Finance's pages: settlement runs per building (draft → checked → approved), a new draft with
its preview table before it is saved, the four-eyes steps as buttons (the run store refuses the
wrong person, whatever the page shows), downloads (CSV, XLSX, the PDFs as a zip), and the
statements' delivery deadline (4 months after the accounting year)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Final

from babel.numbers import format_decimal
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud.accounts.audit import AuditAction
from cloud.accounts.http import client_address
from cloud.accounts.principal import Principal, Role
from cloud.accounts.scope import BuildingView, check_building, visible_buildings
from cloud.api.deps import AppContext, get_context
from cloud.settlement.csv_io import InputError, parse_period
from cloud.settlement.deadline import statement_deadline
from cloud.settlement.engine import SettlementError
from cloud.settlement.model import SettlementResult
from cloud.settlement.money import MoneyError
from cloud.settlement.names import safe_stem
from cloud.settlement.numbers import NumberError, parse_amount
from cloud.settlement.periods import local_date
from cloud.settlement.runs import RunNotFound, RunRecord, RunState, RunStore
from cloud.settlement.store_io import settle_from_store
from cloud.web.common import (
    FORM_ERRORS,
    PageDenied,
    PageUser,
    accounts_of,
    check_csrf,
    guarded,
    in_language,
    page,
    require_role,
)
from cloud.web.i18n import gettext, language_of
from cloud.web.session import WebSession
from cloud.web.texts import N_
from cloud.web.views import LOCAL_TZ

if TYPE_CHECKING:
    from cloud.api.schemas import SettlementRequest

router = APIRouter(include_in_schema=False)
MAX_MONTHS: Final = 12
FIELD = Annotated[str, Form(max_length=100)]
ZIP_TIME: Final = (2000, 1, 1, 0, 0, 0)
"""Fixed member times: the same run gives the same zip bytes."""


def _context(request: Request) -> AppContext:
    return get_context(request)


def _building(user: WebSession, building: str) -> None:
    require_role(user, Role.FINANCE)
    guarded(lambda: check_building(user.principal, building, BuildingView.SETTLEMENTS))


def period_date(iso: str, *, end: bool = False) -> date:
    """A run's local (Copenhagen) first day, or with `end` (its exclusive end) its last day, as
    the statements name them (`first_and_last_day`)."""
    moment = datetime.fromisoformat(iso)
    if end:
        moment -= timedelta(hours=1)
    return local_date(moment)


Standing = dict[int, tuple[str, int | None]]
"""Run id → ("in_force", None) or ("superseded", id of the run that replaced it)."""


def standing(runs: RunStore, records: list[RunRecord]) -> Standing:
    """Which of a building's approved runs is in force for its period (the run store's own
    rule, `RunStore.in_force`) and which are superseded, and by which correction."""
    replaced_by = {
        r.supersedes: r.id
        for r in records
        if r.supersedes is not None and r.state is RunState.APPROVED
    }
    in_force: dict[tuple[str, str], int | None] = {}
    out: Standing = {}
    for r in records:
        if r.state is not RunState.APPROVED:
            continue
        period = (r.period_start, r.period_end)
        if period not in in_force:
            current = runs.in_force(
                r.building_id,
                datetime.fromisoformat(r.period_start),
                datetime.fromisoformat(r.period_end),
            )
            in_force[period] = None if current is None else current.id
        if in_force[period] == r.id:
            out[r.id] = ("in_force", None)
        else:
            out[r.id] = ("superseded", replaced_by.get(r.id))
    return out


def _run_view(
    record: RunRecord, year_end_month: int | None = None, standings: Standing | None = None
) -> dict[str, Any]:
    state, replaced_by = (standings or {}).get(record.id, (None, None))
    return {
        "standing": state,
        "superseded_by": replaced_by,
        "supersedes": record.supersedes,
        "reason": record.reason,
        "id": record.id,
        "building": record.building_id,
        "state": record.state.value,
        "start": period_date(record.period_start),
        "end": period_date(record.period_end, end=True),
        "cost_ore": record.cost_ore,
        "created_by": record.created_by,
        "checked_by": record.checked_by,
        "approved_by": record.approved_by,
        "deadline": statement_deadline(
            datetime.fromisoformat(record.period_start),
            datetime.fromisoformat(record.period_end),
            year_end_month,
        ),
        "tariff_version": record.tariff_version,
    }


def runs_page(request: Request, user: WebSession) -> Response:
    require_role(user, Role.FINANCE)
    context = _context(request)
    ids = visible_buildings(user.principal, [b.id for b in context.registry.buildings])
    buildings = []
    for b in ids:
        records = context.runs.of_building(b)
        standings = standing(context.runs, records)
        year_end = context.registry.building(b).accounting_year_end_month
        buildings.append(
            {
                "id": b,
                "name": context.registry.building(b).name or b,
                "runs": [_run_view(r, year_end, standings) for r in records[:20]],
            }
        )
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    return page(request, user, "finance/runs.html", {"buildings": buildings, "today": today})


def _draft_page(
    request: Request,
    user: WebSession,
    building: str,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    preview: SettlementResult | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        user,
        "finance/new.html",
        {
            "building": building,
            "values": values,
            "errors": errors or {},
            "preview": preview,
            "tariff_version": _context(request).tariff.version,
        },
        status_code=status_code,
    )


@router.get("/buildings/{building}/settlements/new")
def new_run_form(request: Request, user: PageUser, building: str) -> Response:
    _building(user, building)
    last_year = datetime.now(UTC).astimezone(LOCAL_TZ).year - 1
    values = {
        "period_start": f"{last_year}-01",
        "period_end": f"{last_year}-12",
        "total_cost": "",
        "bill_received": "",
    }
    return _draft_page(request, user, building, values=values)


def _settle(
    request: Request, building: str, values: dict[str, str]
) -> tuple[SettlementResult | None, dict[str, str]]:
    """The draft's result from the form, or the field errors in the person's language."""
    lang = language_of(request)
    errors: dict[str, str] = {}
    start = end = None
    try:
        start, end = parse_period(f"{values['period_start']}..{values['period_end']}")
    except (InputError, ValueError):
        errors["period_start"] = gettext(
            lang, N_("Write the first and last month as YYYY-MM, the first before the last")
        )
    if start is not None and end is not None:
        months = (end.year - start.year) * 12 + end.month - start.month
        if months > MAX_MONTHS:
            errors["period_end"] = gettext(lang, N_("A heating account covers at most 12 months"))
    amount = None
    try:  # the settlement's one number rule (cloud/settlement/numbers.py), as CLI and API
        amount = parse_amount(values["total_cost"])
        if amount <= 0:
            errors["total_cost"] = gettext(lang, N_("The amount must be more than 0 kroner"))
            amount = None
    except NumberError as exc:
        errors["total_cost"] = in_language(str(exc), lang)
    received = None
    if values["bill_received"].strip():
        try:
            received = date.fromisoformat(values["bill_received"].strip())
        except ValueError:
            errors["bill_received"] = gettext(lang, N_("Write the date as YYYY-MM-DD"))
    if errors or start is None or end is None or amount is None:
        return None, errors
    context = _context(request)
    try:
        result = settle_from_store(
            context.store,
            context.registry,
            building,
            start,
            end,
            amount,
            context.tariff,
            statement_date=datetime.now(UTC).date(),
            bill_received=received,
        )
    except MoneyError as exc:
        return None, {"total_cost": in_language(str(exc), lang)}
    except (SettlementError, ValueError) as exc:
        return None, {"period_start": in_language(str(exc), lang)}
    return result, {}


@router.post("/buildings/{building}/settlements/new")
def new_run(
    request: Request,
    user: PageUser,
    building: str,
    period_start: FIELD = "",
    period_end: FIELD = "",
    total_cost: FIELD = "",
    bill_received: FIELD = "",
    action: FIELD = "preview",
    csrf_token: FIELD = "",
) -> Response:
    _building(user, building)
    check_csrf(request, user, csrf_token)
    values = {
        "period_start": period_start.strip(),
        "period_end": period_end.strip(),
        "total_cost": total_cost.strip(),
        "bill_received": bill_received.strip(),
    }
    result, errors = _settle(request, building, values)
    if result is None:
        return _draft_page(
            request, user, building, values=values, errors=errors, status_code=FORM_ERRORS
        )
    if action != "save":
        return _draft_page(request, user, building, values=values, preview=result)
    from fastapi import HTTPException

    from cloud.api.schemas import SettlementRequest

    body = SettlementRequest(
        period_start=values["period_start"],
        period_end=values["period_end"],
        total_cost_dkk=result.cost_dkk,
        bill_received=result.bill_received,
        statement_date=result.statement_date,
    )
    try:
        run_id = _save_run(request, user.principal, building, body)
    except HTTPException as exc:
        errors = {"period_start": in_language(str(exc.detail), language_of(request))}
        return _draft_page(
            request, user, building, values=values, errors=errors, status_code=FORM_ERRORS
        )
    return RedirectResponse(f"/buildings/{building}/settlements/{run_id}", status_code=303)


def _save_run(
    request: Request, principal: Principal, building: str, body: SettlementRequest
) -> int:
    """Save a draft or a correction by the API's own function, with this person's name: the
    same checks and audit. The API's refusal is raised as its ``HTTPException``; the new run's
    id is returned."""
    from cloud.api.routes.settlements import create_settlement

    context = _context(request)
    created = create_settlement(
        principal=principal,
        request=request,
        response=Response(),
        body=body,
        building=context.registry.building(building),
        store=context.store,
        registry=context.registry,
        tariff=context.tariff,
        runs=context.runs,
        documents=context.documents,
        context=context,
    )
    return created.run_id


# -- corrections of an approved run ----------------------------------------------------------

REASON_MAX: Final = 1000
"""As the API's ``reason`` (cloud/api/schemas.py SettlementRequest)."""


def _correctable(request: Request, building: str, run_id: int) -> RunRecord:
    """The approved run in force that a correction may supersede (404 otherwise, with why)."""
    record = _record(request, building, run_id)
    standings = standing(_context(request).runs, [record])
    if standings.get(record.id, ("", None))[0] != "in_force":
        raise PageDenied(
            404,
            f"Kun den godkendte kørsel, der gælder, kan korrigeres; kørsel {run_id} er ikke den "
            f"/ only the approved run in force can be corrected; run {run_id} is not",
        )
    return record


def _month(iso: str, *, end: bool = False) -> str:
    return f"{period_date(iso, end=end):%Y-%m}"


def _correction_page(
    request: Request,
    user: WebSession,
    record: RunRecord,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    preview: SettlementResult | None = None,
    status_code: int = 200,
) -> Response:
    context = _context(request)
    year_end = context.registry.building(record.building_id).accounting_year_end_month
    return page(
        request,
        user,
        "finance/correct.html",
        {
            "run": _run_view(record, year_end),
            "values": values,
            "errors": errors or {},
            "preview": preview,
            "tariff_version": context.tariff.version,
        },
        status_code=status_code,
    )


@router.get("/buildings/{building}/settlements/{run_id}/correct")
def correction_form(request: Request, user: PageUser, building: str, run_id: int) -> Response:
    _building(user, building)
    record = _correctable(request, building, run_id)
    meta = _context(request).documents.meta(record.id)
    received = meta.bill_received if meta is not None else None
    values = {
        "reason": "",
        "total_cost": format_decimal(record.cost_ore / 100, format="#,##0.00", locale="da_DK"),
        "bill_received": received.isoformat() if received else "",
    }
    return _correction_page(request, user, record, values=values)


@router.post("/buildings/{building}/settlements/{run_id}/correct")
def correct_run(
    request: Request,
    user: PageUser,
    building: str,
    run_id: int,
    reason: Annotated[str, Form(max_length=10_000)] = "",
    total_cost: FIELD = "",
    bill_received: FIELD = "",
    action: FIELD = "preview",
    csrf_token: FIELD = "",
) -> Response:
    """A correction: the same draft fields for the run's own building and period, and why;
    saved by the API's own function as a draft that supersedes the run once approved (by the
    same four-eyes steps)."""
    _building(user, building)
    check_csrf(request, user, csrf_token)
    record = _correctable(request, building, run_id)
    lang = language_of(request)
    values = {
        "reason": reason.strip(),
        "total_cost": total_cost.strip(),
        "bill_received": bill_received.strip(),
    }
    period = {
        "period_start": _month(record.period_start),
        "period_end": _month(record.period_end, end=True),
    }
    result, errors = _settle(request, building, {**values, **period})
    if not values["reason"]:
        errors = {
            "reason": gettext(
                lang, N_("Write why the run is corrected: it is printed on the statements")
            ),
            **errors,
        }
    elif len(values["reason"]) > REASON_MAX:
        errors = {
            "reason": gettext(lang, N_("Write the reason in at most 1,000 characters")),
            **errors,
        }
    if errors or result is None:
        if "period_start" in errors:  # the period is the run's: its trouble is the form's
            errors["total_cost"] = errors.pop("period_start")
        return _correction_page(
            request, user, record, values=values, errors=errors, status_code=FORM_ERRORS
        )
    if action != "save":
        return _correction_page(request, user, record, values=values, preview=result)
    from fastapi import HTTPException

    from cloud.api.schemas import SettlementRequest

    body = SettlementRequest(
        period_start=period["period_start"],
        period_end=period["period_end"],
        total_cost_dkk=result.cost_dkk,
        bill_received=result.bill_received,
        statement_date=result.statement_date,
        corrects_run_id=record.id,
        reason=values["reason"],
    )
    try:
        run_id = _save_run(request, user.principal, building, body)
    except HTTPException as exc:
        errors = {"reason": in_language(str(exc.detail), lang)}
        return _correction_page(
            request, user, record, values=values, errors=errors, status_code=FORM_ERRORS
        )
    return RedirectResponse(f"/buildings/{building}/settlements/{run_id}", status_code=303)


def _record(request: Request, building: str, run_id: int) -> RunRecord:
    record: RunRecord | None
    try:
        record = _context(request).runs.get(run_id) if 1 <= run_id < 2**31 else None
    except RunNotFound:
        record = None
    if record is None or record.building_id != building:
        raise PageDenied(
            404,
            f"Kørsel {run_id} findes ikke for bygning {building} / run {run_id} does not exist "
            f"for building {building}",
        )
    return record


@router.get("/buildings/{building}/settlements/{run_id}")
def run_page(
    request: Request, user: PageUser, building: str, run_id: int, refused: str | None = None
) -> Response:
    _building(user, building)
    record = _record(request, building, run_id)
    from cloud.api.documents import csv_rows

    context = _context(request)
    standings = standing(context.runs, context.runs.of_building(building))
    return page(
        request,
        user,
        "finance/run.html",
        {
            "run": _run_view(
                record, context.registry.building(building).accounting_year_end_month, standings
            ),
            "rows": csv_rows(record.csv),
            "me": user.principal.username,
            "refused": refused,
        },
    )


@router.post("/buildings/{building}/settlements/{run_id}/{step}")
def sign_off(
    request: Request,
    user: PageUser,
    building: str,
    run_id: int,
    step: str,
    csrf_token: FIELD = "",
) -> Response:
    _building(user, building)
    check_csrf(request, user, csrf_token)
    if step not in ("check", "approve"):
        raise PageDenied(404, "Ukendt trin / unknown step")
    _record(request, building, run_id)
    context = _context(request)
    # the API's own steps, called as functions with this person: the same four-eyes rule,
    # the same audit entries, the same kept documents
    from fastapi import HTTPException

    from cloud.api.routes.settlements import approve_settlement, check_settlement

    step_function = check_settlement if step == "check" else approve_settlement
    try:
        step_function(
            principal=user.principal,
            request=request,
            building=context.registry.building(building),
            run_id=run_id,
            runs=context.runs,
            context=context,
        )
    except HTTPException as exc:
        refused = in_language(str(exc.detail), language_of(request))
        return run_page(request, user, building, run_id, refused=refused)
    return RedirectResponse(f"/buildings/{building}/settlements/{run_id}", status_code=303)


def _stem(record: RunRecord) -> str:
    return f"varmeregnskab_{record.building_id}_{record.period_start[:7]}_koersel{record.id}"


@router.get("/buildings/{building}/settlements/{run_id}/download/{kind}")
def download(request: Request, user: PageUser, building: str, run_id: int, kind: str) -> Response:
    """``csv``, ``xlsx`` or ``pdf.zip`` (every flat's statement)."""
    from cloud.api.documents import statement_name
    from cloud.api.routes.settlements import XLSX, _document

    _building(user, building)
    record = _record(request, building, run_id)
    context = _context(request)
    if kind == "csv":
        content, media, name = record.csv, "text/csv; charset=utf-8", f"{_stem(record)}.csv"
    elif kind == "xlsx":
        content = _document(context, record, "export.xlsx")
        media, name = XLSX, f"{_stem(record)}.xlsx"
    elif kind == "pdf.zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for flat in sorted(record.coverage_pct):
                # the id as slug + hash: an id like "1/2" or "../x" must not become a folder
                info = zipfile.ZipInfo(f"{_stem(record)}_{safe_stem(flat)}.pdf", ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, _document(context, record, statement_name(flat)))
        content, media, name = buffer.getvalue(), "application/zip", f"{_stem(record)}_pdf.zip"
    else:
        raise PageDenied(404, "Ukendt filtype / unknown file type")
    accounts_of(request).audit(
        user.principal,
        AuditAction.SETTLEMENT_EXPORTED,
        building_id=building,
        run_id=run_id,
        address=client_address(request),
        detail={"kind": kind},
    )
    return Response(
        content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
