"""Admin endpoints (admin role only, `cloud.accounts.scope.check_admin`): users, their roles and
scopes, erasure requests, and ``GET /api/audit``. Every change goes in the audit trail (by the
service). No endpoint edits or deletes audit entries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from cloud.accounts import (
    AccountError,
    AuditQuery,
    Principal,
    Role,
    UnknownUser,
    UserInfo,
    scope,
)
from cloud.accounts.http import AccountsDep, CurrentPrincipal, client_address
from cloud.accounts.principal import ScopeKind
from cloud.api.deps import MAX_DB_ID, Moment, RunStoreDep, StoreDep
from cloud.api.routes.me import erasure_out
from cloud.api.schemas import (
    AuditOut,
    DisabledIn,
    ErasureOut,
    PasswordIn,
    ScopeIn,
    UserCreate,
    UserOut,
)

router = APIRouter(tags=["admin"])
UsernamePath = Annotated[str, Path(min_length=2, max_length=64)]
ScopeKindName = Literal["building", "organisation", "flat"]


def _admin(principal: CurrentPrincipal) -> Principal:
    """A dependency: 403 for anyone but an admin, before the request body is looked at."""
    scope.check_admin(principal)
    return principal


AdminPrincipal = Annotated[Principal, Depends(_admin)]


def _user_out(user: UserInfo) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        disabled=user.disabled,
        created_at=user.created_at,
        flats=list(user.flats),
        buildings=[s for k, s in user.scopes if k is ScopeKind.BUILDING],
        organisations=[s for k, s in user.scopes if k is ScopeKind.ORGANISATION],
    )


def _account_error(exc: AccountError) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if isinstance(exc, UnknownUser) else 422
    if "findes allerede" in str(exc):
        code = status.HTTP_409_CONFLICT
    return HTTPException(code, str(exc))


@router.get("/admin/users", summary="Brugere / users")
def list_users(
    principal: AdminPrincipal,
    accounts: AccountsDep,
    role: Annotated[Role | None, Query()] = None,
) -> list[UserOut]:
    return [_user_out(u) for u in accounts.users(role)]


@router.post("/admin/users", status_code=status.HTTP_201_CREATED, summary="Ny bruger / new user")
def create_user(
    principal: AdminPrincipal, request: Request, body: UserCreate, accounts: AccountsDep
) -> UserOut:
    try:
        accounts.create_user(
            body.username,
            body.role,
            body.password,
            display_name=body.display_name,
            by=principal,
            address=client_address(request),
        )
        return _user_out(accounts.user(body.username))
    except AccountError as exc:
        raise _account_error(exc) from exc


@router.get("/admin/users/{username}", summary="Bruger / user")
def get_user(principal: AdminPrincipal, username: UsernamePath, accounts: AccountsDep) -> UserOut:
    try:
        return _user_out(accounts.user(username))
    except AccountError as exc:
        raise _account_error(exc) from exc


@router.put("/admin/users/{username}/disabled", summary="Spær / disable (or enable)")
def set_disabled(
    principal: AdminPrincipal,
    request: Request,
    username: UsernamePath,
    body: DisabledIn,
    accounts: AccountsDep,
) -> UserOut:
    """Disabling ends all the user's sessions at once."""
    if body.disabled and username.strip().casefold() == principal.username:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "Du kan ikke spærre dig selv / you cannot disable yourself",
        )
    try:
        accounts.set_disabled(
            username, body.disabled, by=principal, address=client_address(request)
        )
        return _user_out(accounts.user(username))
    except AccountError as exc:
        raise _account_error(exc) from exc


@router.put(
    "/admin/users/{username}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Ny adgangskode / new password",
)
def set_password(
    principal: AdminPrincipal,
    request: Request,
    username: UsernamePath,
    body: PasswordIn,
    accounts: AccountsDep,
) -> None:
    """Ends all the user's sessions."""
    try:
        accounts.set_password(
            username, body.password, by=principal, address=client_address(request)
        )
    except AccountError as exc:
        raise _account_error(exc) from exc


@router.post("/admin/users/{username}/scopes", summary="Tildel / assign a scope")
def add_scope(
    principal: AdminPrincipal,
    request: Request,
    username: UsernamePath,
    body: ScopeIn,
    accounts: AccountsDep,
) -> UserOut:
    """``{"kind": "building"|"organisation", "id": …}`` for staff, ``{"kind": "flat", …}`` for
    a resident."""
    address = client_address(request)
    try:
        kind = body.scope_kind()
        if kind is None:
            accounts.add_resident(username, body.id, by=principal, address=address)
        else:
            accounts.assign(username, kind, body.id, by=principal, address=address)
        return _user_out(accounts.user(username))
    except AccountError as exc:
        raise _account_error(exc) from exc


@router.delete("/admin/users/{username}/scopes", summary="Fjern / remove a scope")
def remove_scope(
    principal: AdminPrincipal,
    request: Request,
    username: UsernamePath,
    accounts: AccountsDep,
    kind: Annotated[ScopeKindName, Query()],
    id: Annotated[str, Query(min_length=1, max_length=64)],
) -> UserOut:
    address = client_address(request)
    try:
        if kind == "flat":
            accounts.remove_resident(username, id, by=principal, address=address)
        else:
            accounts.unassign(username, ScopeKind(kind), id, by=principal, address=address)
        return _user_out(accounts.user(username))
    except AccountError as exc:
        raise _account_error(exc) from exc


@router.get("/admin/erasure-requests", summary="Sletteanmodninger / erasure requests")
def erasure_requests(
    principal: AdminPrincipal,
    accounts: AccountsDep,
    open_only: bool = False,
) -> list[ErasureOut]:
    return [erasure_out(e) for e in accounts.erasure_requests(open_only=open_only)]


@router.post(
    "/admin/erasure-requests/{request_id}/complete",
    summary="Gennemfør sletning / complete an erasure",
)
def complete_erasure(
    principal: AdminPrincipal,
    request: Request,
    request_id: Annotated[int, Path(ge=1, le=MAX_DB_ID)],
    accounts: AccountsDep,
    store: StoreDep,
    runs: RunStoreDep,
) -> ErasureOut:
    """Deletes the account data and the flat readings of the requester's tenancy, and keeps
    what the law requires (see ``kept``): ``readings_deleted`` and ``readings_kept`` (with
    ``because``: an approved settlement's period, or another resident's) say which readings."""
    try:
        done = accounts.complete_erasure(
            request_id, principal, address=client_address(request), store=store, runs=runs
        )
    except KeyError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Anmodning {request_id} findes ikke / request {request_id} does not exist",
        ) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return erasure_out(done)


@router.get("/audit", summary="Revisionsspor / audit trail")
def audit(
    principal: AdminPrincipal,
    accounts: AccountsDep,
    user: Annotated[str | None, Query(max_length=64, description="who did it")] = None,
    flat: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["flat.detail_read"])] = None,
    since: Annotated[Moment | None, Query(description="at or after")] = None,
    until: Annotated[Moment | None, Query(description="before")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AuditOut]:
    """Newest first. Read-only: nothing in the API changes or deletes the trail."""
    entries = accounts.audit_entries(
        AuditQuery(
            username=user, flat_id=flat, action=action, since=since, until=until, limit=limit
        )
    )
    return [
        AuditOut(
            id=e.id,
            at=e.at,
            username=e.username,
            action=e.action,
            flat=e.flat_id,
            building=e.building_id,
            run_id=e.run_id,
            address=e.address,
            detail=e.detail,
        )
        for e in entries
    ]
