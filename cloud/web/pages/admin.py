"""The admin's pages: users and roles, new staff users, residents invited with a one-time
activation code (printed in a letter), disabling and enabling users, a resident's move-out;
and ``/activate`` where an invited resident chooses a password."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud.accounts.errors import AccountError
from cloud.accounts.http import client_address
from cloud.accounts.passwords import PasswordRejected, check_new_password
from cloud.accounts.principal import Role, ScopeKind
from cloud.accounts.scope import check_admin
from cloud.accounts.service import LoginFailed
from cloud.accounts.users import LOCAL_TZ, move_out_instant, normalise_username
from cloud.web import csrf
from cloud.web.common import (
    FORM_ERRORS,
    PageDenied,
    PageUser,
    accounts_of,
    check_csrf,
    csrf_key,
    guarded,
    in_language,
    page,
    public_page,
)
from cloud.web.i18n import gettext, language_of
from cloud.web.invitations import InvitationError, Invitations
from cloud.web.session import WebSession, set_session_cookie
from cloud.web.texts import N_, ROLE_LABELS

router = APIRouter(include_in_schema=False)
STAFF_ROLES = (Role.TECHNICIAN, Role.FINANCE, Role.ADMIN)
FIELD = Annotated[str, Form(max_length=300)]


def invitations(request: Request) -> Invitations:
    found: Invitations = request.app.state.web_invitations
    return found


def _admin(user: WebSession) -> None:
    guarded(lambda: check_admin(user.principal))


def users_page(request: Request, user: WebSession, *, done: str | None = None) -> Response:
    _admin(user)
    return page(
        request,
        user,
        "admin/users.html",
        {
            "users": accounts_of(request).users(),
            "erasures": accounts_of(request).erasure_requests(open_only=True),
            "roles": ROLE_LABELS,
            "done": done,
            "user_name": user.principal.username,
        },
    )


@router.get("/users")
def users(request: Request, user: PageUser, done: str | None = None) -> Response:
    return users_page(request, user, done=done)


@router.post("/users/{username}/disabled")
def set_disabled(
    request: Request,
    user: PageUser,
    username: str,
    disabled: FIELD = "",
    csrf_token: FIELD = "",
) -> Response:
    _admin(user)
    check_csrf(request, user, csrf_token)
    accounts = accounts_of(request)
    try:
        if normalise_username(username) == user.principal.username:
            raise AccountError("Du kan ikke spærre dig selv / you cannot disable yourself")
        accounts.set_disabled(
            username, disabled == "yes", by=user.principal, address=client_address(request)
        )
    except AccountError as exc:
        raise PageDenied(409, str(exc)) from exc
    return RedirectResponse("/?done=" + ("disabled" if disabled == "yes" else "enabled"), 303)


@router.post("/users/erasures/{request_id}")
def complete_erasure(
    request: Request, user: PageUser, request_id: int, csrf_token: FIELD = ""
) -> Response:
    """Carry out a resident's erasure request (what the law requires is kept: `cloud.accounts.
    gdpr`)."""
    _admin(user)
    check_csrf(request, user, csrf_token)
    if not 1 <= request_id < 2**31:
        raise PageDenied(404, "Anmodningen findes ikke / no such request")
    try:
        context = request.app.state.context
        accounts_of(request).complete_erasure(
            request_id,
            user.principal,
            address=client_address(request),
            store=context.store,
            runs=context.runs,
        )
    except KeyError as exc:
        raise PageDenied(404, "Anmodningen findes ikke / no such request") from exc
    except (AccountError, ValueError) as exc:
        raise PageDenied(409, str(exc)) from exc
    return RedirectResponse("/?done=erased", status_code=303)


def _buildings(request: Request) -> list[str]:
    return [b.id for b in request.app.state.context.registry.buildings]


def _new_user_page(
    request: Request,
    user: WebSession,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        user,
        "admin/new_user.html",
        {
            "values": values or {"role": "technician", "buildings": []},
            "errors": errors or {},
            "roles": {r.value: ROLE_LABELS[r.value] for r in STAFF_ROLES},
            "buildings": _buildings(request),
        },
        status_code=status_code,
    )


@router.get("/users/new")
def new_user_form(request: Request, user: PageUser) -> Response:
    _admin(user)
    return _new_user_page(request, user)


@router.post("/users/new")
async def new_user(request: Request, user: PageUser) -> Response:
    form = await request.form(max_files=0, max_fields=100)
    _admin(user)
    check_csrf(request, user, str(form.get("csrf_token", "")))
    lang = language_of(request)
    username = str(form.get("username", ""))[:100]
    display_name = str(form.get("display_name", ""))[:200]
    role = str(form.get("role", ""))
    chosen = [str(b) for b in form.getlist("buildings")][:500]
    values: dict[str, Any] = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "buildings": chosen,
    }
    password = str(form.get("password", ""))[:300]
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = gettext(lang, N_("Enter a user name"))
    if role not in {r.value for r in STAFF_ROLES}:
        errors["role"] = gettext(lang, N_("Choose a role"))
    try:
        check_new_password(password, username)
    except PasswordRejected as exc:
        errors["password"] = in_language(str(exc), lang)
    known = set(_buildings(request))
    if any(b not in known for b in chosen):
        errors["buildings"] = gettext(lang, N_("Choose buildings from the list"))
    if role == Role.ADMIN.value and chosen:
        errors["buildings"] = gettext(lang, N_("An administrator has no buildings"))
    if not errors:
        accounts = accounts_of(request)
        address = client_address(request)
        try:
            accounts.create_user(
                username,
                Role(role),
                password,
                display_name=display_name or None,
                by=user.principal,
                address=address,
            )
            for building in chosen:
                accounts.assign(
                    username, ScopeKind.BUILDING, building, by=user.principal, address=address
                )
        except AccountError as exc:
            errors["username"] = in_language(str(exc), lang)
    if errors:
        return _new_user_page(request, user, values=values, errors=errors, status_code=FORM_ERRORS)
    return RedirectResponse("/?done=created", status_code=303)


def _invite_page(
    request: Request,
    user: WebSession,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    accounts = accounts_of(request)
    return page(
        request,
        user,
        "admin/invite.html",
        {
            "values": values or {},
            "errors": errors or {},
            "flats": sorted(f for _b, f in accounts.flats()),
        },
        status_code=status_code,
    )


@router.get("/users/invite")
def invite_form(request: Request, user: PageUser) -> Response:
    _admin(user)
    return _invite_page(request, user)


@router.post("/users/invite")
def invite(
    request: Request,
    user: PageUser,
    username: FIELD = "",
    display_name: FIELD = "",
    flat: FIELD = "",
    csrf_token: FIELD = "",
) -> Response:
    _admin(user)
    check_csrf(request, user, csrf_token)
    lang = language_of(request)
    accounts = accounts_of(request)
    values = {"username": username, "display_name": display_name, "flat": flat}
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = gettext(lang, N_("Enter a user name"))
    if flat not in {f for _b, f in accounts.flats()}:
        errors["flat"] = gettext(lang, N_("Choose the resident's flat"))
    if not errors:
        address = client_address(request)
        try:
            # a password nobody knows until the resident chooses one with the code
            accounts.create_user(
                username,
                Role.RESIDENT,
                secrets.token_urlsafe(32),
                display_name=display_name or None,
                by=user.principal,
                address=address,
            )
            accounts.add_resident(username, flat, by=user.principal, address=address)
        except AccountError as exc:
            errors["username"] = in_language(str(exc), lang)
    if errors:
        return _invite_page(request, user, values=values, errors=errors, status_code=FORM_ERRORS)
    name = normalise_username(username)
    invitation = invitations(request).issue(name, by=user.principal.username)
    return page(
        request,
        user,
        "admin/letter.html",
        {"invitation": invitation, "flat": flat, "display_name": display_name or name},
    )


def _activate_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return public_page(
        request,
        "activate.html",
        "activate",
        {"values": values or {}, "errors": errors or {}},
        status_code=status_code,
    )


@router.get("/activate")
def activate_form(request: Request) -> Response:
    return _activate_page(request)


@router.post("/activate")
def activate(
    request: Request,
    username: FIELD = "",
    code: FIELD = "",
    password: FIELD = "",
    csrf_token: FIELD = "",
) -> Response:
    lang = language_of(request)
    values = {"username": username, "code": code}
    binding = request.cookies.get(csrf.PRESESSION_COOKIE)
    if not csrf.valid(csrf_key(request), binding, csrf_token, "activate"):
        errors = {"code": gettext(lang, N_("The form had expired. Please try again."))}
        return _activate_page(request, values=values, errors=errors, status_code=FORM_ERRORS)
    errors = {}
    name = normalise_username(username)
    if not name:
        errors["username"] = gettext(lang, N_("Enter the user name from your letter"))
    if not code.strip():
        errors["code"] = gettext(lang, N_("Enter the activation code from your letter"))
    try:
        check_new_password(password, name)
    except PasswordRejected as exc:
        errors["password"] = in_language(str(exc), lang)
    if errors:
        return _activate_page(request, values=values, errors=errors, status_code=FORM_ERRORS)
    try:
        invitations(request).redeem(name, code)
    except InvitationError as exc:
        errors["code"] = in_language(str(exc), lang)
        return _activate_page(request, values=values, errors=errors, status_code=FORM_ERRORS)
    accounts = accounts_of(request)
    address = client_address(request)
    accounts.set_password(name, password, address=address)
    try:
        token, _principal = accounts.login(name, password, address)
    except LoginFailed:
        return RedirectResponse("/login", status_code=303)
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, token, int(accounts.policy.session_ttl.total_seconds()))
    return response


# after /users/new and /users/invite: a route with a {username} must not shadow them
@router.get("/users/{username}")
def user_page(request: Request, user: PageUser, username: str, done: str | None = None) -> Response:
    """One user: role, buildings (add, remove), flats (a resident's move-out)."""
    return _user_page(request, user, username, done=done)


def _user_page(
    request: Request,
    user: WebSession,
    username: str,
    *,
    done: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    _admin(user)
    try:
        info = accounts_of(request).user(username)
    except (AccountError, KeyError) as exc:
        raise PageDenied(404, "Brugeren findes ikke / no such user") from exc
    assigned = [scope_id for kind, scope_id in info.scopes if kind is ScopeKind.BUILDING]
    return page(
        request,
        user,
        "admin/user.html",
        {
            "info": info,
            "roles": ROLE_LABELS,
            "buildings": [b for b in _buildings(request) if b not in assigned],
            "assigned": assigned,
            "others": [(k.value, i) for k, i in info.scopes if k is not ScopeKind.BUILDING],
            "moved_out": [(f, u.astimezone(LOCAL_TZ).date()) for f, u in info.moved_out],
            "done": done,
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.post("/users/{username}/move-out")
def move_out(
    request: Request,
    user: PageUser,
    username: str,
    flat: FIELD = "",
    date: FIELD = "",
    csrf_token: FIELD = "",
) -> Response:
    """A resident moves out of a flat on a Danish calendar day: their tenancy ends at its local
    midnight and is kept for their export and erasure (`Accounts.move_out`, audited)."""
    _admin(user)
    check_csrf(request, user, csrf_token)
    lang = language_of(request)
    accounts = accounts_of(request)
    try:
        info = accounts.user(username)
    except AccountError as exc:
        raise PageDenied(404, "Brugeren findes ikke / no such user") from exc
    values = {"flat": flat, "date": date}
    errors: dict[str, str] = {}
    if flat not in info.flats:
        errors["flat"] = gettext(lang, N_("Choose a flat the resident lives in"))
    until: datetime | None = None
    if not date.strip():
        errors["date"] = gettext(lang, N_("Enter the move-out day"))
    else:
        try:
            until = move_out_instant(date)
        except AccountError as exc:
            errors["date"] = in_language(str(exc), lang)
    if until is not None and not errors:
        try:
            accounts.move_out(
                username, flat, until, by=user.principal, address=client_address(request)
            )
        except AccountError as exc:
            errors["date"] = in_language(str(exc), lang)
    if errors:
        return _user_page(
            request, user, username, values=values, errors=errors, status_code=FORM_ERRORS
        )
    return RedirectResponse(f"/users/{quote(info.username)}?done=moved_out", status_code=303)


@router.post("/users/{username}/buildings")
def change_building(
    request: Request,
    user: PageUser,
    username: str,
    building: FIELD = "",
    action: FIELD = "add",
    csrf_token: FIELD = "",
) -> Response:
    """Give a technician or finance user a building, or take it away (audited by the
    accounts service; the role decides which scopes it takes)."""
    _admin(user)
    check_csrf(request, user, csrf_token)
    accounts = accounts_of(request)
    if building not in _buildings(request):
        raise PageDenied(404, "Bygningen findes ikke / no such building")
    try:
        if action == "remove":
            accounts.unassign(
                username,
                ScopeKind.BUILDING,
                building,
                by=user.principal,
                address=client_address(request),
            )
        else:
            accounts.assign(
                username,
                ScopeKind.BUILDING,
                building,
                by=user.principal,
                address=client_address(request),
            )
    except AccountError as exc:
        raise PageDenied(409, str(exc)) from exc
    return RedirectResponse(f"/users/{username}?done={action}", status_code=303)
