"""``/api/buildings/{building}/settlements`` (finance of the building): heating settlement runs.

A run is settled from the store (`cloud.settlement.store_io.settle_from_store`) and recorded as a
draft in the run store; it is then checked and approved, after which it is immutable (409 on any
change). The names on a run are the logged-in users' (a typed ``by`` is refused); whoever drafted
or checked a run cannot approve it (four eyes, `RunStore.approve`). Every action, refusals of the
four-eyes rule and downloads go in the audit trail. Exports are the same bytes as
``indeklima settle`` writes: the CSV is the one the run recorded; the XLSX and the per-flat PDFs
are regenerated from the run's inputs and served only if the rerun reproduces the run (see
`cloud.api.documents`).

Periods are Danish calendar months (responses carry the local ``period_first_day`` and
``period_last_day``). One approved run is in force per building and period; a new run for such a
period is a correction (``corrects_run_id`` + ``reason``). Every run shows its
``statement_deadline`` (4 months after the accounting year) and a warning when near or passed;
``GET …/settlements/deadlines`` lists the periods not yet approved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi import Path as PathParam

from cloud.accounts import AuditAction, BuildingView, Principal, scope
from cloud.accounts.http import CurrentPrincipal, client_address
from cloud.api.deps import (
    BuildingDep,
    ContextDep,
    DocumentsDep,
    RegistryDep,
    RunId,
    RunStoreDep,
    StoreDep,
    TariffDep,
)
from cloud.api.documents import (
    NotReproducible,
    check_reproduces,
    csv_rows,
    document_names,
    rerun,
    statement_name,
)
from cloud.api.schemas import (
    DeadlineOut,
    SettlementRequest,
    SettlementRowOut,
    SettlementRunOut,
    SignOffRequest,
)
from cloud.registry import flat_key
from cloud.settlement.csv_io import InputError, parse_period
from cloud.settlement.deadline import Deadline, deadline_status
from cloud.settlement.engine import SettlementError
from cloud.settlement.export import to_csv_bytes, to_xlsx_bytes
from cloud.settlement.model import SettlementResult
from cloud.settlement.money import MoneyError, ore_to_dkk
from cloud.settlement.names import safe_stem
from cloud.settlement.pdf import statement_pdf
from cloud.settlement.periods import first_and_last_day, local_date, months_between, period_label
from cloud.settlement.runs import (
    CorrectionError,
    RunImmutable,
    RunNotFound,
    RunRecord,
    RunState,
    RunStore,
)
from cloud.settlement.store_io import settle_from_store

router = APIRouter(prefix="/buildings/{building}/settlements", tags=["settlements"])

MAX_MONTHS: Final = 12
"""A heating account covers at most a year (BEK 734 § 9: the accounting year is 12 months)."""
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _finance(principal: CurrentPrincipal, building: BuildingDep) -> Principal:
    """A dependency: finance of this building only (403), before the body is looked at."""
    scope.check_building(principal, building.id, BuildingView.SETTLEMENTS)
    return principal


FinanceOfBuilding = Annotated[Principal, Depends(_finance)]


def _audit(
    context: ContextDep,
    principal: Principal,
    request: Request,
    action: AuditAction,
    building: str,
    run_id: int,
    **detail: object,
) -> None:
    context.accounts.audit(
        principal,
        action,
        building_id=building,
        run_id=run_id,
        address=client_address(request),
        detail=detail or None,
    )


def _conflict(text: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, text)


def _approved(run_id: int) -> HTTPException:
    return _conflict(
        f"Kørsel {run_id} er godkendt og kan ikke ændres; lav en ny kørsel (fx en rettelse) / "
        f"run {run_id} is approved and cannot change; make a new run (e.g. a correction)"
    )


def _record(runs: RunStore, building: str, run_id: int) -> RunRecord:
    try:
        record = runs.get(run_id)
    except RunNotFound:
        record = None
    if record is None or record.building_id != building:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Kørsel {run_id} findes ikke for bygning {building} / run {run_id} does not "
            f"exist for building {building}",
        )
    return record


def _dkk(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


def _rows(csv_bytes: bytes) -> list[SettlementRowOut]:
    return [
        SettlementRowOut(
            flat_id=r["flat_id"],
            key=flat_key(r["flat_id"]),
            area_m2=float(_dkk(r["area_m2"])),
            position_factor=float(_dkk(r["position_factor"])),
            share_pct=float(_dkk(r["share_pct"])),
            fixed_dkk=_dkk(r["fixed_dkk"]),
            variable_dkk=_dkk(r["variable_dkk"]),
            amount_dkk=_dkk(r["amount_dkk"]),
            points=float(_dkk(r["points"])),
            coverage_pct=float(_dkk(r["coverage_pct"])),
            aconto_dkk=_dkk(r["aconto_dkk"]),
            balance_dkk=_dkk(r["balance_dkk"]),
            due_date=date.fromisoformat(r["due_date"]),
            instalments=int(r["instalments"]),
            flags=[f for f in r["flags"].split(",") if f],
        )
        for r in csv_rows(csv_bytes)
    ]


def _out(request: Request, context: ContextDep, record: RunRecord) -> SettlementRunOut:
    meta = context.documents.meta(record.id)
    base = str(request.url_for("get_settlement", building=record.building_id, run_id=record.id))
    return SettlementRunOut(
        run_id=record.id,
        building=record.building_id,
        state=record.state.value,
        period_start=datetime.fromisoformat(record.period_start),
        period_end=datetime.fromisoformat(record.period_end),
        cost_ore=record.cost_ore,
        cost_dkk=ore_to_dkk(record.cost_ore),
        total_ore=record.total_ore,
        total_dkk=ore_to_dkk(record.total_ore),
        tariff_version=record.tariff_version,
        tariff_sha256=record.tariff_sha256,
        input_sha256=record.input_sha256,
        statement_date=date.fromisoformat(record.statement_date),
        bill_received=meta.bill_received if meta else None,
        created_at=datetime.fromisoformat(record.created_at),
        created_by=record.created_by,
        checked_by=record.checked_by,
        approved_by=record.approved_by,
        approved_at=datetime.fromisoformat(record.approved_at) if record.approved_at else None,
        notes=list(meta.notes) if meta else [],
        flats=_rows(record.csv),
        **_period_and_deadline(context, record),
        links={
            "self": base,
            "check": f"{base}/check",
            "approve": f"{base}/approve",
            "export_csv": f"{base}/export.csv",
            "export_xlsx": f"{base}/export.xlsx",
            "statement_pdf": base + "/statements/{key}.pdf",
        },
    )


def _deadline(context: ContextDep, record: RunRecord) -> Deadline:
    try:
        year_end_month = context.registry.building(record.building_id).accounting_year_end_month
    except KeyError:
        year_end_month = None
    approved = datetime.fromisoformat(record.approved_at) if record.approved_at else None
    return deadline_status(
        datetime.fromisoformat(record.period_start),
        datetime.fromisoformat(record.period_end),
        local_date(datetime.now(UTC)),
        local_date(approved) if approved else None,
        year_end_month,
    )


def _period_and_deadline(context: ContextDep, record: RunRecord) -> dict[str, Any]:
    """Local period dates, correction and deadline fields of a run's response."""
    start = datetime.fromisoformat(record.period_start)
    end = datetime.fromisoformat(record.period_end)
    first, last = first_and_last_day(start, end)
    deadline = _deadline(context, record)
    return {
        "period": period_label(start, end),
        "period_first_day": first,
        "period_last_day": last,
        "supersedes": record.supersedes,
        "reason": record.reason,
        "statement_deadline": deadline.deadline,
        "deadline_state": deadline.state.value,
        "deadline_warning": deadline.warning,
    }


def _make(result: SettlementResult, name: str) -> bytes:
    if name == "export.xlsx":
        return to_xlsx_bytes([result])
    flat = name.removeprefix("statements/").removesuffix(".pdf")
    return statement_pdf(result, result.statement(flat))


def _reproduced(context: ContextDep, record: RunRecord) -> SettlementResult:
    meta = context.documents.meta(record.id)
    try:
        result = rerun(context.store, context.registry, record, meta, context.tariff)
        result = replace(result, run=record.ref)
        check_reproduces(record, result, to_csv_bytes(result))
    except (NotReproducible, SettlementError, ValueError) as exc:
        raise _conflict(str(exc)) from exc
    return result


def _document(context: ContextDep, record: RunRecord, name: str) -> bytes:
    kept = context.documents.get(record.id, name)
    if kept is not None:
        return kept
    content = _make(_reproduced(context, record), name)
    return context.documents.keep(record.id, name, content)


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Ny kørsel (kladde) / new run (draft)",
)
def create_settlement(
    principal: FinanceOfBuilding,
    request: Request,
    response: Response,
    body: SettlementRequest,
    building: BuildingDep,
    store: StoreDep,
    registry: RegistryDep,
    tariff: TariffDep,
    runs: RunStoreDep,
    documents: DocumentsDep,
    context: ContextDep,
) -> SettlementRunOut:
    try:
        start, end = parse_period(f"{body.period_start}..{body.period_end}")
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    months = months_between(start, end)
    if months > MAX_MONTHS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"Perioden er {months} måneder; et varmeregnskab dækker højst {MAX_MONTHS} / the "
            f"period is {months} months; a heating account covers at most {MAX_MONTHS}",
        )
    try:
        result = settle_from_store(
            store,
            registry,
            building.id,
            start,
            end,
            body.total_cost_dkk,
            tariff,
            statement_date=body.statement_date or local_date(datetime.now(UTC)),
            bill_received=body.bill_received,
        )
    except MoneyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except (SettlementError, ValueError) as exc:
        raise _conflict(
            f"Bygning {building.id} kan ikke afregnes for {body.period_start}..{body.period_end}"
            f": {exc} / building {building.id} cannot be settled for this period"
        ) from exc
    try:
        run_id = runs.create(
            result,
            lambda ref: to_csv_bytes(replace(result, run=ref)),
            created_by=principal.username,
            supersedes=body.corrects_run_id,
            reason=body.reason,
        )
    except (CorrectionError, RunNotFound) as exc:
        raise _conflict(str(exc).strip("'\"")) from exc
    documents.save_meta(run_id, result)
    _audit(context, principal, request, AuditAction.SETTLEMENT_CREATED, building.id, run_id)
    out = _out(request, context, runs.get(run_id))
    response.headers["Location"] = out.links["self"]
    return out


@router.get("/deadlines", summary="Frister / deadlines of periods not yet approved")
def settlement_deadlines(
    principal: FinanceOfBuilding, building: BuildingDep, runs: RunStoreDep, context: ContextDep
) -> list[DeadlineOut]:
    """Each period of this building with runs but none approved: its newest run and the legal
    deadline for approved statements (4 months after the accounting year), oldest first."""
    out = []
    for record in runs.pending(building.id):
        deadline = _deadline(context, record)
        start = datetime.fromisoformat(record.period_start)
        out.append(
            DeadlineOut(
                run_id=record.id,
                state=record.state.value,
                period=period_label(start, datetime.fromisoformat(record.period_end)),
                statement_deadline=deadline.deadline,
                deadline_state=deadline.state.value,
                days_left=deadline.days_left,
                warning=deadline.warning,
            )
        )
    return out


@router.get("/{run_id}", summary="Kørsel / run")
def get_settlement(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    runs: RunStoreDep,
    context: ContextDep,
) -> SettlementRunOut:
    return _out(request, context, _record(runs, building.id, run_id))


@router.post("/{run_id}/check", summary="Kontrollér / check")
def check_settlement(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    runs: RunStoreDep,
    context: ContextDep,
    body: SignOffRequest | None = None,
) -> SettlementRunOut:
    """Check a draft; the checker is the logged-in user."""
    record = _record(runs, building.id, run_id)
    if record.state is RunState.APPROVED:
        raise _approved(run_id)
    if record.state is not RunState.DRAFT:
        raise _conflict(
            f"Kørsel {run_id} er allerede kontrolleret af {record.checked_by} / run {run_id} "
            f"was already checked by {record.checked_by}"
        )
    try:
        runs.check(run_id, by=principal.username)
    except RunImmutable as exc:
        raise _approved(run_id) from exc
    except ValueError as exc:
        raise _conflict(str(exc)) from exc
    _audit(context, principal, request, AuditAction.SETTLEMENT_CHECKED, building.id, run_id)
    return _out(request, context, runs.get(run_id))


@router.post("/{run_id}/approve", summary="Godkend / approve")
def approve_settlement(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    runs: RunStoreDep,
    context: ContextDep,
    body: SignOffRequest | None = None,
) -> SettlementRunOut:
    """Approve a checked run — not by whoever drafted or checked it — after checking that the
    store's data still reproduce it; its XLSX and PDFs are made and kept, so they never change
    afterwards."""
    record = _record(runs, building.id, run_id)
    if record.state is RunState.APPROVED:
        raise _approved(run_id)
    if record.state is not RunState.CHECKED:
        raise _conflict(
            f"Kørsel {run_id} skal kontrolleres før den godkendes (POST .../check) / run "
            f"{run_id} must be checked before it is approved (POST .../check)"
        )
    if principal.username in (record.created_by, record.checked_by):
        did = "kontrollerede" if principal.username == record.checked_by else "lavede"
        did_en = "checked" if principal.username == record.checked_by else "drafted"
        _audit(
            context,
            principal,
            request,
            AuditAction.SETTLEMENT_REFUSED,
            building.id,
            run_id,
            reason="four eyes",
        )
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{principal.username} {did} kørsel {run_id} og kan ikke også godkende den; en "
            f"anden skal godkende / {principal.username} {did_en} run {run_id} and cannot also "
            "approve it; someone else must approve",
        )
    result = _reproduced(context, record)
    try:
        runs.approve(run_id, by=principal.username)
    except RunImmutable as exc:
        raise _approved(run_id) from exc
    except PermissionError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except ValueError as exc:
        raise _conflict(str(exc)) from exc
    _audit(context, principal, request, AuditAction.SETTLEMENT_APPROVED, building.id, run_id)
    for name in document_names([s.flat_id for s in result.statements]):
        if context.documents.get(run_id, name) is None:
            context.documents.keep(run_id, name, _make(result, name))
    return _out(request, context, runs.get(run_id))


@router.delete(
    "/{run_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Slet kladde / delete draft"
)
def delete_settlement(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    runs: RunStoreDep,
    documents: DocumentsDep,
    context: ContextDep,
) -> None:
    record = _record(runs, building.id, run_id)
    if record.state is RunState.APPROVED:
        raise _approved(run_id)
    try:
        runs.delete(run_id)
    except RunImmutable as exc:
        raise _approved(run_id) from exc
    documents.forget(run_id)
    _audit(context, principal, request, AuditAction.SETTLEMENT_DELETED, building.id, run_id)


def _stem(record: RunRecord) -> str:
    """A file name stem from a slug and hash of the ids (never the raw id) and the local month."""
    start = datetime.fromisoformat(record.period_start)
    end = datetime.fromisoformat(record.period_end)
    label = period_label(start, end).replace("..", "_")
    return f"varmeregnskab_{safe_stem(record.building_id)}_{label}_koersel{record.id}"


@router.get("/{run_id}/export.csv", summary="CSV (EG Bolig/Unik Bolig)")
def export_csv(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    runs: RunStoreDep,
    context: ContextDep,
) -> Response:
    record = _record(runs, building.id, run_id)
    _audit(
        context,
        principal,
        request,
        AuditAction.SETTLEMENT_EXPORTED,
        building.id,
        run_id,
        document="export.csv",
    )
    return _download(record.csv, "text/csv; charset=utf-8", f"{_stem(record)}.csv")


@router.get("/{run_id}/export.xlsx", summary="XLSX")
def export_xlsx(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    runs: RunStoreDep,
    context: ContextDep,
) -> Response:
    record = _record(runs, building.id, run_id)
    _audit(
        context,
        principal,
        request,
        AuditAction.SETTLEMENT_EXPORTED,
        building.id,
        run_id,
        document="export.xlsx",
    )
    return _download(_document(context, record, "export.xlsx"), XLSX, f"{_stem(record)}.xlsx")


@router.get("/{run_id}/statements/{flat}.pdf", summary="Opgørelse pr. lejlighed / statement")
def statement(
    principal: FinanceOfBuilding,
    request: Request,
    building: BuildingDep,
    run_id: RunId,
    flat: Annotated[
        str,
        PathParam(max_length=64, description="lejlighedens nøgle / the flat's key (`key`)"),
    ],
    runs: RunStoreDep,
    context: ContextDep,
) -> Response:
    record = _record(runs, building.id, run_id)
    by_key = {flat_key(f): f for f in record.coverage_pct}
    if flat not in by_key:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Lejlighed {flat} er ikke med i kørsel {run_id} / flat {flat} is not in run {run_id}",
        )
    flat = by_key[flat]
    content = _document(context, record, statement_name(flat))
    _audit(
        context,
        principal,
        request,
        AuditAction.SETTLEMENT_EXPORTED,
        building.id,
        run_id,
        document=statement_name(flat),
    )
    return _download(content, "application/pdf", f"{_stem(record)}_{safe_stem(flat)}.pdf")
