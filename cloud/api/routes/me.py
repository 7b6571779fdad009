"""``GET /api/me/export?format=json|csv`` (everything stored about me and my flats, streamed) and
``POST /api/me/erasure`` (ask for erasure; an admin completes it — what the law requires is
kept, and the answer says what and why)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse

from cloud.accounts import Accounts, AuditAction, AuditQuery, Principal, scope
from cloud.accounts.erasure import ReadingSpan
from cloud.accounts.gdpr import DELETED, KEPT, Erasure
from cloud.accounts.http import AccountsDep, CurrentPrincipal, client_address
from cloud.accounts.principal import Residence
from cloud.analytics.alert_store import AlertStore
from cloud.api.deps import (
    AlertStoreDep,
    DocumentsDep,
    RegistryDep,
    RunStoreDep,
    StoreDep,
    find_flat,
)
from cloud.api.documents import RunDocuments, csv_rows, statement_name
from cloud.api.figures import QUANTITIES
from cloud.api.schemas import ErasureOut, ReadingSpanOut
from cloud.registry import Registry
from cloud.settlement.periods import LOCAL_TZ
from cloud.settlement.runs import RunNotFound, RunStore
from cloud.store.base import CLIMATE, TimeSeriesStore

router = APIRouter(prefix="/me", tags=["my data"])

CHUNK: Final = timedelta(days=1)
"""Readings are read and sent one day at a time (bounded memory, however long the stay)."""
MAX_AUDIT: Final = 5000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _settlements(
    runs: RunStore, documents: RunDocuments, periods: list[Residence]
) -> list[dict[str, Any]]:
    """My flats' rows of the heating settlements whose statements were issued (approved runs
    keep every flat's statement), for the runs whose period shares time with my tenancy."""
    out = []
    for tenancy in periods:
        flat = tenancy.flat
        for run_id in documents.runs_with(statement_name(flat)):
            try:
                record = runs.get(run_id)
            except RunNotFound:
                continue
            period = (
                datetime.fromisoformat(record.period_start),
                datetime.fromisoformat(record.period_end),
            )
            if not scope.overlaps_own_period(tenancy, *period):
                continue
            for row in csv_rows(record.csv):
                if row.get("flat_id") == flat:
                    out.append(
                        {
                            **row,
                            "run_id": run_id,
                            "building": record.building_id,
                            "period_start": record.period_start,
                            "period_end": record.period_end,
                            "state": record.state.value,
                        }
                    )
    return out


def _records(
    accounts: Accounts,
    alerts: AlertStore,
    runs: RunStore,
    documents: RunDocuments,
    principal: Principal,
    periods: list[Residence],
) -> dict[str, Any]:
    """Everything but the readings, as plain JSON values; of my flats' records only those of
    my tenancies (`periods`: [since, until), `scope.own_periods`)."""
    data: dict[str, Any] = dict(accounts.personal_data(principal))
    data["consent"] = {
        t.flat: [
            {"staff_detail": c.staff_detail, "at": c.at, "by": c.by}
            for c in accounts.consent_history(t.flat)
            if scope.in_own_period(t, c.at)
        ]
        for t in periods
    }
    entries = accounts.audit_entries(AuditQuery(username=principal.username, limit=MAX_AUDIT))
    for t in periods:  # who read or changed my flat's data while I lived there
        entries += [
            e
            for e in accounts.audit_entries(
                AuditQuery(flat_id=t.flat, since=t.since, until=t.until, limit=MAX_AUDIT)
            )
            if scope.in_own_period(t, e.at)
        ]
    unique = {e.id: e for e in entries}
    data["audit"] = [
        {
            "at": e.at,
            "user": e.username,
            "action": e.action,
            "flat": e.flat_id,
            "run_id": e.run_id,
            "address": e.address if e.username == principal.username else None,
        }
        for e in sorted(unique.values(), key=lambda e: e.id)
    ]
    data["alerts"] = [
        {k: v for k, v in a.to_json().items() if k not in ("advice_da", "advice_en")}
        for t in periods
        for a in alerts.query(flat=t.flat)
        if scope.alert_in_period(t, a.raised_at, a.cleared_at or a.updated_at)
    ]
    data["settlements"] = _settlements(runs, documents, periods)
    return _plain(data)  # type: ignore[no-any-return]


def _readings(
    store: TimeSeriesStore, registry: Registry, periods: list[Residence]
) -> Iterator[dict[str, Any]]:
    """The readings of my flats in my tenancies [since, until), a day at a time."""
    for tenancy in periods:
        flat = tenancy.flat
        ref = find_flat(registry, flat)
        if ref is None or tenancy.until is None:
            continue
        start = tenancy.since
        while start < tenancy.until:
            end = min(start + CHUNK, tenancy.until)
            frame = store.query(
                CLIMATE,
                start,
                end,
                where={"building": ref.building_id, "flat": flat},
                fields=list(QUANTITIES),
            )
            for row in frame.to_dict("records"):
                yield {
                    "time": row["time"].to_pydatetime().isoformat(),
                    "flat": flat,
                    "room": row.get("room", ""),
                    "sensor": row.get("sensor", ""),
                    **{q: None if row.get(q) != row.get(q) else row.get(q) for q in QUANTITIES},
                }
            start = end


def _json_stream(records: dict[str, Any], readings: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    head = json.dumps(records, ensure_ascii=False)
    yield head[:-1].encode("utf-8") + b', "readings": ['
    first = True
    for reading in readings:
        yield (b"" if first else b",") + json.dumps(reading, ensure_ascii=False).encode("utf-8")
        first = False
    yield b"]}\n"


def _csv_line(*values: Any) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return out.getvalue().encode("utf-8")


def _csv_stream(records: dict[str, Any], readings: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """One long table: section, item number, field, value — then one row per reading."""
    yield _csv_line("section", "item", "field", "value")
    for section, value in records.items():
        items = value if isinstance(value, list) else [value]
        if isinstance(value, dict) and section == "consent":
            items = [{"flat": f, **c} for f, cs in value.items() for c in cs]
        for number, item in enumerate(items):
            fields = item if isinstance(item, dict) else {"value": item}
            for key, field_value in fields.items():
                shown = (
                    json.dumps(field_value, ensure_ascii=False)
                    if isinstance(field_value, dict | list)
                    else field_value
                )
                yield _csv_line(section, number, key, shown)
    yield _csv_line("readings", "time", "flat", "room", "sensor", *QUANTITIES)
    for reading in readings:
        yield _csv_line(
            "reading",
            reading["time"],
            reading["flat"],
            reading["room"],
            reading["sensor"],
            *(reading[q] for q in QUANTITIES),
        )


@router.get(
    "/export",
    summary="Mine data / my data (GDPR art. 15)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def export(
    principal: CurrentPrincipal,
    request: Request,
    accounts: AccountsDep,
    store: StoreDep,
    registry: RegistryDep,
    alerts: AlertStoreDep,
    runs: RunStoreDep,
    documents: DocumentsDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> StreamingResponse:
    """Everything stored about me and my flat(s): my account, sessions and login attempts, and
    for each tenancy — current or moved out, exactly [since, until) — the flat's consent
    history, the audit trail of my actions and of every access to the flat, its alerts, its
    rows of issued heating settlements, and its readings (streamed, a day at a time)."""
    now = datetime.now(UTC)
    accounts.audit(
        principal, AuditAction.EXPORT, address=client_address(request), detail={"format": format}
    )
    periods = scope.own_periods(principal, now)
    records = _records(accounts, alerts, runs, documents, principal, periods)
    readings = _readings(store, registry, periods)
    stamp = now.strftime("%Y%m%d")
    if format == "csv":
        body, media = _csv_stream(records, readings), "text/csv; charset=utf-8"
    else:
        body, media = _json_stream(records, readings), "application/json"
    name = f"indeklima_{principal.username}_{stamp}.{format}"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def erasure_out(erasure: Erasure) -> ErasureOut:
    return ErasureOut(
        id=erasure.id,
        username=erasure.username,
        requested_at=erasure.requested_at,
        completed_at=erasure.completed_at,
        completed_by=erasure.completed_by,
        kept=list(KEPT),
        deleted=list(DELETED),
        readings_deleted=[_span_out(s) for s in erasure.readings_deleted],
        readings_kept=[_span_out(s) for s in erasure.readings_kept],
    )


def _span_out(span: ReadingSpan) -> ReadingSpanOut:
    """Local dates: the last day is the day of the last instant before ``end``."""
    return ReadingSpanOut(
        building=span.building,
        flat=span.flat,
        first_day=span.start.astimezone(LOCAL_TZ).date(),
        last_day=(span.end - timedelta(microseconds=1)).astimezone(LOCAL_TZ).date(),
        start=span.start,
        end=span.end,
        because=span.because,
    )


@router.post(
    "/erasure",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Anmod om sletning / ask for erasure (GDPR art. 17)",
)
def request_erasure(
    principal: CurrentPrincipal, request: Request, accounts: AccountsDep
) -> ErasureOut:
    """An admin completes the request. ``kept`` says what the law requires to be kept (the
    basis of approved heating settlements, the audit trail, the consent history) and why;
    ``deleted`` what goes."""
    return erasure_out(accounts.request_erasure(principal, address=client_address(request)))
