"""``/login`` (fields ``username``, ``password``), ``/logout`` and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from cloud.accounts.http import client_address
from cloud.accounts.service import LockedOut, LoginFailed
from cloud.web import csrf
from cloud.web.common import (
    FORM_ERRORS,
    accounts_of,
    check_csrf,
    csrf_key,
    current_session,
    in_language,
    public_page,
)
from cloud.web.i18n import LANG_COOKIE, gettext, language_of, parse_lang
from cloud.web.session import (
    LoginRequired,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from cloud.web.templating import environment
from cloud.web.texts import N_

router = APIRouter(include_in_schema=False)

MAX_FIELD = 200


def _login_page(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    errors: dict[str, str] | None = None,
    message: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return public_page(
        request,
        "login.html",
        "login",
        {
            "next": safe_next(next_path),
            "username": username,
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/login")
def login_form(
    request: Request, next: str = "/", expired: str | None = None, logged_out: str | None = None
) -> Response:
    lang = language_of(request)
    message = None
    if logged_out:
        message = {"kind": "success", "text": gettext(lang, N_("You are logged out."))}
    if expired:
        message = {
            "kind": "warning",
            "text": gettext(lang, N_("Your session has expired. Log in again to continue.")),
        }
    return _login_page(request, next_path=next, message=message)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=600)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    lang = language_of(request)
    binding = request.cookies.get(csrf.PRESESSION_COOKIE)
    if not csrf.valid(csrf_key(request), binding, csrf_token, "login"):
        return _login_page(
            request,
            next_path=next,
            username=username,
            message={
                "kind": "error",
                "text": gettext(lang, N_("The form had expired. Please log in again.")),
            },
            status_code=FORM_ERRORS,
        )
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = gettext(lang, N_("Enter your user name"))
    if not password:
        errors["password"] = gettext(lang, N_("Enter your password"))
    if errors:
        return _login_page(
            request, next_path=next, username=username, errors=errors, status_code=FORM_ERRORS
        )
    accounts = accounts_of(request)
    try:
        token, _principal = accounts.login(username, password, client_address(request))
    except LockedOut as exc:
        until = exc.locked_until
        text = gettext(lang, N_("Too many failed attempts. The account is locked until %(time)s."))
        stamp = environment(lang).filters["local_time"](until) if until else "?"
        errors = {"username": text % {"time": stamp}}
        return _login_page(
            request, next_path=next, username=username, errors=errors, status_code=FORM_ERRORS
        )
    except LoginFailed as exc:
        # wrong name or password, or (after a right password) a disabled account: the
        # accounts service's own words, in the person's language
        return _login_page(
            request,
            next_path=next,
            username=username,
            errors={"username": in_language(str(exc), lang)},
            status_code=FORM_ERRORS,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, token, int(accounts.policy.session_ttl.total_seconds()))
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    try:
        user = current_session(request)
    except LoginRequired:
        response = RedirectResponse("/login", status_code=303)
        clear_session_cookie(response)
        return response
    check_csrf(request, user, csrf_token)
    accounts_of(request).logout(user.token, address=client_address(request))
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    """Remember the language (a year) and go back; an unknown code means Danish."""
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        parse_lang(code).value,
        max_age=365 * 24 * 3600,
        secure=True,
        httponly=True,
        samesite="lax",
        path="/",
    )
    return response
