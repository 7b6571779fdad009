"""Ventilation windows for technicians: set points per building/flat/room, one-off window
commands, and what the controllers decided; the weekly flat diagnosis.

Setting set points and sending commands are technician actions in their own buildings
(`cloud.accounts.scope.check_building` with ``BuildingView.CLIMATE``), audited with what was
asked and what the gateway answered. Set points go to each serving gateway as its whole
configuration on the retained ``…/config`` topic; the gateway validates them and answers (a
refusal, with its reason, comes back in the response and is stored with the window events).
Decisions and the diagnosis's key figures are a flat's summary (residents of the flat and staff
of its building); the diagnosis's evidence only with the residents' consent (audited).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.accounts import (
    Accounts,
    AuditAction,
    BuildingView,
    Denied,
    FlatView,
    Principal,
    scope,
)
from cloud.accounts.http import AccountsDep, CurrentPrincipal, client_address
from cloud.api.access import check_flat
from cloud.api.deps import BuildingDep, FlatDep, FlatRef, RegistryDep, StoreDep
from cloud.control import ControlClient
from cloud.registry import FlatIdentifier, Registry
from cloud.setpoint_book import SetpointBook
from cloud.store.base import TimeSeriesStore
from cloud.window_state import EVENT_MEASUREMENT
from edge.wire import ID_PATTERN

router = APIRouter(tags=["windows"])

WAIT_S: Final = 5.0
"""How long a request waits for the gateway's answer before saying "pending"."""
LOOKUP_DAYS: Final = 30
DIAGNOSIS: Final = "diagnosis"
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]


class SetpointsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flat: FlatIdentifier | None = None
    """The flat's id as text (``Østergade 1/2 th``), as in the registry."""
    room: Id | None = None
    values: dict[str, float | list[str]] = Field(
        max_length=40,
        description="set point name → value (checked by the gateway; empty removes the scope)",
        examples=[{"co2_open_ppm": 900}],
    )


class VerdictOut(BaseModel):
    gateway: str
    config_id: str
    outcome: Literal["applied", "refused", "pending"]
    reason: str | None = None


class SetpointsOut(BaseModel):
    building: str
    scopes: list[dict[str, Any]]
    verdicts: list[VerdictOut] = []


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["open", "close", "release"]
    target_pct: float = Field(100.0, gt=0, le=100)
    hold_s: float = Field(3600.0, ge=60, le=86_400)
    lifetime_s: float = Field(120.0, ge=5, le=86_400)


class CommandOut(BaseModel):
    id: str
    gateway: str
    window: str
    outcome: str
    """executed, blocked, released, expired, refused — or pending (no answer yet)."""
    reason: str | None = None


class WindowEventOut(BaseModel):
    time: datetime
    window: str
    room: str
    kind: str
    rule: str | None = None
    tier: str | None = None
    target_pct: float | None = None
    text_da: str | None = None
    text_en: str | None = None
    ref: str | None = None
    outcome: str | None = None
    reason: str | None = None


class DiagnosisOut(BaseModel):
    flat: str
    week_end: datetime
    causes: list[str]
    figures: dict[str, float | bool | None]
    advice_da: str
    advice_en: str
    evidence: list[dict[str, Any]] | None
    evidence_note: str | None = None


def _control(request: Request) -> tuple[ControlClient, SetpointBook]:
    control = getattr(request.app.state, "control", None)
    book = getattr(request.app.state, "setpoint_book", None)
    if control is None or book is None:  # a deployment without it, not a server fault
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "Vinduesstyring er ikke sat op i denne API (start den med --control-mqtt-url) / "
            "window control is not set up in this API (start it with --control-mqtt-url)",
        )
    return control, book


def _check_building(principal: Principal, building_id: str) -> None:
    scope.check_building(principal, building_id, BuildingView.CLIMATE)


def _technician(principal: CurrentPrincipal, building: BuildingDep) -> Principal:
    """A technician of the building in the path — checked before the body (403 before 422)."""
    _check_building(principal, building.id)
    return principal


TechnicianOfBuilding = Annotated[Principal, Depends(_technician)]


def _text(value: object) -> str | None:
    return None if value is None or value != value else str(value)  # NaN → None


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if number != number else number


def setpoint_book(request: Request) -> SetpointBook | None:
    """The set point book when window control is set up in this app, else None."""
    if getattr(request.app.state, "control", None) is None:
        return None
    book: SetpointBook | None = getattr(request.app.state, "setpoint_book", None)
    return book


def building_setpoints(book: SetpointBook, registry: Registry, building_id: str) -> SetpointsOut:
    """The building's current set point scopes from the book (no scope check: callers do)."""
    gateways = [g.id for g in registry.gateways if g.building == building_id]
    scopes = [s for g in gateways for s in book.scopes(g) if s["building"] == building_id]
    return SetpointsOut(building=building_id, scopes=scopes)


@router.get("/buildings/{building}/setpoints", summary="Sætpunkter / set points")
def get_setpoints(
    principal: TechnicianOfBuilding,
    request: Request,
    building: BuildingDep,
    registry: RegistryDep,
) -> SetpointsOut:
    _control_unused, book = _control(request)
    return building_setpoints(book, registry, building.id)


@router.put("/buildings/{building}/setpoints", summary="Sæt sætpunkter / set set points")
def put_setpoints(
    principal: TechnicianOfBuilding,
    request: Request,
    building: BuildingDep,
    registry: RegistryDep,
    accounts: AccountsDep,
    body: SetpointsIn,
) -> SetpointsOut:
    control, book = _control(request)
    if body.room is not None and body.flat is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "Et rum kræver en lejlighed (flat) / a room needs its flat",
        )
    if body.flat is not None and body.flat not in {f.id for f in building.flats}:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Lejlighed {body.flat!r} ligger ikke i {building.id} / flat {body.flat!r} is not in "
            f"{building.id}",
        )
    gateways = [
        g.id
        for g in registry.gateways
        if g.building == building.id and (body.flat is None or body.flat in g.flats)
    ]
    if not gateways:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"Ingen gateway betjener {body.flat or building.id} / no gateway serves "
            f"{body.flat or building.id}",
        )
    verdicts = []
    for gateway in gateways:
        before = book.scopes(gateway)
        scopes = book.changed(gateway, building.id, body.flat, body.room, dict(body.values))
        config_id = control.publish_setpoints(gateway, scopes, by=principal.username)
        answers = control.wait_answer(config_id, WAIT_S)
        refused = next((a for a in answers if a.outcome == "refused"), None)
        if refused is not None:
            control.publish_setpoints(gateway, before, by=principal.username)  # keep the good one
            verdict = VerdictOut(
                gateway=gateway, config_id=config_id, outcome="refused", reason=refused.reason
            )
        else:
            book.save(gateway, scopes)
            outcome: Literal["applied", "pending"] = "applied" if answers else "pending"
            verdict = VerdictOut(gateway=gateway, config_id=config_id, outcome=outcome)
        verdicts.append(verdict)
        accounts.audit(
            principal,
            AuditAction.WINDOW_SETPOINTS,
            building_id=building.id,
            flat_id=body.flat,
            address=client_address(request),
            detail={
                "gateway": gateway,
                "room": body.room,
                "values": dict(body.values),
                "config_id": config_id,
                "outcome": verdict.outcome,
                "reason": verdict.reason,
            },
        )
    scopes_now = [s for g in gateways for s in book.scopes(g) if s["building"] == building.id]
    return SetpointsOut(building=building.id, scopes=scopes_now, verdicts=verdicts)


@router.post(
    "/gateways/{gateway}/windows/{window}/commands", summary="Styr et vindue / command a window"
)
def command_window(
    principal: CurrentPrincipal,
    request: Request,
    gateway: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)],
    window: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)],
    registry: RegistryDep,
    store: StoreDep,
    accounts: AccountsDep,
    body: CommandIn,
) -> CommandOut:
    now = datetime.now(UTC)
    events = store.query(
        EVENT_MEASUREMENT, now - timedelta(days=LOOKUP_DAYS), now, where={"window": window}
    )
    served = {(g.id, g.building) for g in registry.gateways}
    if events.empty or "building" not in events.columns:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Vindue {window!r} har ikke meldt sig de sidste {LOOKUP_DAYS} dage / window "
            f"{window!r} has not reported in the last {LOOKUP_DAYS} days",
        )
    latest = events.sort_values("time").iloc[-1]
    building_id, flat_id = str(latest["building"]), str(latest["flat"])
    if (gateway, building_id) not in served:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Gateway {gateway!r} betjener ikke vindue {window!r} / gateway {gateway!r} does "
            f"not serve window {window!r}",
        )
    _check_building(principal, building_id)
    control, _book = _control(request)
    command_id = control.send_command(
        gateway,
        window,
        body.action,
        target_pct=body.target_pct,
        hold_s=body.hold_s,
        lifetime_s=body.lifetime_s,
        by=principal.username,
        now=now,
    )
    answers = control.wait_answer(command_id, WAIT_S)
    outcome = answers[0].outcome or "pending" if answers else "pending"
    reason = answers[0].reason if answers else None
    accounts.audit(
        principal,
        AuditAction.WINDOW_COMMAND,
        building_id=building_id,
        flat_id=flat_id,
        address=client_address(request),
        detail={
            "gateway": gateway,
            "window": window,
            **body.model_dump(),
            "command_id": command_id,
            "outcome": outcome,
        },
    )
    return CommandOut(id=command_id, gateway=gateway, window=window, outcome=outcome, reason=reason)


@router.get("/flats/{flat_id}/windows", summary="Vinduernes beslutninger / window decisions")
def window_events(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    accounts: AccountsDep,
    store: StoreDep,
    days: Annotated[float, Query(gt=0, le=31)] = 1.0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[WindowEventOut]:
    check_flat(accounts, principal, ref, FlatView.SUMMARY, request)
    return flat_window_events(store, ref, days=days, limit=limit)


def flat_window_events(
    store: TimeSeriesStore, ref: FlatRef, *, days: float = 1.0, limit: int = 500
) -> list[WindowEventOut]:
    """The flat's window events (decisions, commands, verdicts), newest first; no scope check
    (callers check the flat's summary view first)."""
    now = datetime.now(UTC)
    frame = store.query(
        EVENT_MEASUREMENT,
        now - timedelta(days=days),
        now + timedelta(minutes=5),
        where={"building": ref.building_id, "flat": ref.flat_id},
    )
    if frame.empty:
        return []
    frame = frame.sort_values("time", ascending=False).head(limit)
    return [
        WindowEventOut(
            time=row["time"].to_pydatetime(),
            window=str(row["window"]),
            room=str(row["room"]),
            kind=str(row["kind"]),
            rule=_text(row.get("rule")),
            tier=_text(row.get("tier")),
            target_pct=_num(row.get("target_pct")),
            text_da=_text(row.get("text_da")),
            text_en=_text(row.get("text_en")),
            ref=_text(row.get("ref")),
            outcome=_text(row.get("outcome")),
            reason=_text(row.get("reason")),
        )
        for _, row in frame.iterrows()
    ]


FIGURES: Final = (
    "air_change_per_h",
    "moisture_g_per_h",
    "airing_events",
    "airing_hours",
    "surface_rh_hours_above_75",
    "surface_rh_hours_above_80",
    "frsi",
    "frsi_fitted",
    "window_faults",
    "mean_temperature_c",
)


@router.get("/flats/{flat_id}/diagnosis", summary="Ugens diagnose / the week's diagnosis")
def diagnosis(
    principal: CurrentPrincipal,
    request: Request,
    ref: FlatDep,
    accounts: AccountsDep,
    store: StoreDep,
) -> DiagnosisOut:
    found = flat_diagnosis(principal, request, ref, accounts, store)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Ingen diagnose for {ref.flat_id} de sidste {LOOKUP_DAYS} dage (jobbet kører "
            f"dagligt) / no diagnosis for {ref.flat_id} in the last {LOOKUP_DAYS} days (the "
            "job runs daily)",
        )
    return found


def flat_diagnosis(
    principal: Principal, request: Request, ref: FlatRef, accounts: Accounts, store: TimeSeriesStore
) -> DiagnosisOut | None:
    """The flat's latest diagnosis (None when there is none in `LOOKUP_DAYS`): the summary view
    is checked (`Denied` when refused); the evidence only with the residents' consent, that
    read audited, otherwise the refusal's reason in `evidence_note`."""
    check_flat(accounts, principal, ref, FlatView.SUMMARY, request)
    now = datetime.now(UTC)
    frame = store.query(
        DIAGNOSIS,
        now - timedelta(days=LOOKUP_DAYS),
        now + timedelta(days=1),
        where={"building": ref.building_id, "flat": ref.flat_id},
    )
    if frame.empty:
        return None
    row = frame.sort_values("time").iloc[-1]
    evidence: list[dict[str, Any]] | None = None
    note = None
    try:
        check_flat(accounts, principal, ref, FlatView.DETAIL, request, what="diagnosis evidence")
        evidence = json.loads(str(row["evidence_json"]))
    except Denied as denied:
        note = denied.reason
    figures: dict[str, float | bool | None] = {}
    for name in FIGURES:
        value = row.get(name)
        figures[name] = bool(value) if name == "frsi_fitted" else _num(value)
    causes = str(row["causes"])
    return DiagnosisOut(
        flat=ref.flat_id,
        week_end=row["time"].to_pydatetime(),
        causes=[] if causes == "none" else causes.split(","),
        figures=figures,
        advice_da=str(row["advice_da"]),
        advice_en=str(row["advice_en"]),
        evidence=evidence,
        evidence_note=note,
    )
