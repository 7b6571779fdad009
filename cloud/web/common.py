"""What every page route shares: the person behind the cookie (`PageUser`), the CSRF check, and
`page()` that renders a template with the frame's data (user, menu, CSRF token, language).

Routes raise `LoginRequired` (→ the login, with a message when the session expired) and
`PageDenied` (→ a 403/404 page in the person's language, carrying the reason the one
authorisation module gave); `install_handlers` turns both into pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, FastAPI, Request
from starlette.responses import HTMLResponse, Response

from cloud.accounts.http import SESSION_COOKIE, get_accounts, principal_from_cookie
from cloud.accounts.principal import Principal, Role
from cloud.accounts.scope import Denied
from cloud.accounts.service import Accounts
from cloud.web import csrf
from cloud.web.i18n import Lang, gettext, language_of
from cloud.web.session import (
    LoginRequired,
    WebSession,
    login_redirect,
    presession,
    request_path,
    set_presession_cookie,
)
from cloud.web.templating import render
from cloud.web.texts import N_, ROLE_LABELS
from cloud.web.views import NavItem, nav

T = TypeVar("T")

MENUS: Final[dict[Role, tuple[tuple[str, str], ...]]] = {
    Role.RESIDENT: (
        ("/", N_("Now")),
        ("/charts", N_("Charts")),
        ("/heating", N_("Heating account")),
        ("/my-data", N_("My data and consent")),
    ),
    Role.TECHNICIAN: (
        ("/", N_("Buildings")),
        ("/alerts", N_("Alerts")),
        ("/health", N_("Sensor health")),
    ),
    Role.FINANCE: (("/", N_("Settlements")),),
    Role.ADMIN: (
        ("/", N_("Users")),
        ("/users/new", N_("New staff user")),
        ("/users/invite", N_("Invite a resident")),
    ),
}


FORM_ERRORS: Final = 200
"""A form shown again with its errors is a page like any other (the GOV.UK / DKFDS pattern:
an error summary at the top, the error beside each field): 200, so browsers do not report a
failed load; the errors are in the page."""


class PageDenied(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def csrf_key(request: Request) -> bytes:
    key: bytes = request.app.state.web_csrf_key
    return key


def accounts_of(request: Request) -> Accounts:
    if getattr(request.app.state, "accounts", None) is None:
        raise PageDenied(
            503,
            "Brugerkontiene er ikke sat op på serveren: kør `indeklima db upgrade` og start "
            "igen / the accounts are not set up on the server: run `indeklima db upgrade` and "
            "restart",
        )
    return get_accounts(request)


def current_session(request: Request) -> WebSession:
    """The person behind the session cookie (issue 9's `principal_from_cookie`); without a
    live session the browser goes to the login, told when the session had expired."""
    token = request.cookies.get(SESSION_COOKIE)
    accounts_of(request)  # 503 page when the server has no accounts
    principal = principal_from_cookie(request) if token else None
    if principal is None or token is None:
        raise LoginRequired(request_path(request), expired=bool(token))
    return WebSession(principal, token, csrf.token(csrf_key(request), token))


PageUser = Annotated[WebSession, Depends(current_session)]


def require_role(user: WebSession, *roles: Role) -> None:
    if user.principal.role not in roles:
        raise PageDenied(
            403,
            f"Siden er ikke for rollen {user.principal.role} / the page is not for the role "
            f"{user.principal.role}",
        )


def check_csrf(request: Request, user: WebSession | None, presented: str | None) -> None:
    binding = user.token if user is not None else None
    if not csrf.valid(csrf_key(request), binding, presented):
        raise PageDenied(
            403,
            "Formularen er udløbet eller kom ikke fra denne side: gå tilbage, genindlæs siden og "
            "prøv igen / the form has expired or did not come from this site: go back, reload "
            "the page and try again",
        )


def guarded(check: Callable[[], T]) -> T:
    """Run one of `cloud.accounts.scope`'s checks; its refusal becomes a page (same status
    and reason as the API gives)."""
    try:
        return check()
    except Denied as exc:
        raise PageDenied(exc.status, exc.reason) from exc


def user_view(lang: Lang, principal: Principal) -> dict[str, str]:
    return {
        "name": principal.display_name or principal.username,
        "role_label": gettext(lang, ROLE_LABELS[principal.role.value]),
    }


def menu(lang: Lang, principal: Principal, path: str) -> list[NavItem]:
    items = MENUS.get(principal.role, ())
    return nav([(href, gettext(lang, text)) for href, text in items], path)


def page(
    request: Request,
    user: WebSession | None,
    template: str,
    data: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    lang = language_of(request)
    frame: dict[str, Any] = {
        "path": request_path(request),
        "user": user_view(lang, user.principal) if user else None,
        "nav": menu(lang, user.principal, request.url.path) if user else [],
        "csrf_token": user.csrf_token if user else "",
    }
    frame.update(data)
    response = render(lang, template, frame, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def public_page(
    request: Request,
    template: str,
    form: str,
    data: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """A page before login (login, activation): its form's CSRF token is bound to the
    pre-session cookie, which is set here when the browser has none yet."""
    lang = language_of(request)
    binding, new = presession(request)
    frame: dict[str, Any] = {
        "path": request.url.path,
        "user": None,
        "nav": [],
        "csrf_token": csrf.token(csrf_key(request), binding, form),
    }
    frame.update(data)
    response = render(lang, template, frame, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if new:
        set_presession_cookie(response, binding)
    return response


def in_language(reason: str, lang: Lang) -> str:
    """The API's reasons are "Danish / English"; show the half in the person's language."""
    if " / " in reason:
        da, en = reason.split(" / ", 1)
        return da if lang is Lang.DA else en
    return reason


async def _denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageDenied)
    lang = language_of(request)
    heading = {
        404: N_("Page not found"),
        409: N_("That cannot be done now"),
        503: N_("The service is not ready"),
    }.get(exc.status, N_("You do not have access"))
    return render(
        lang,
        "error.html",
        {
            "path": request_path(request),
            "user": None,
            "nav": [],
            "csrf_token": "",
            "heading": gettext(lang, heading),
            "text": in_language(exc.reason, lang),
        },
        status_code=exc.status,
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return login_redirect(exc.next_path, expired=exc.expired)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PageDenied, _denied)
    app.add_exception_handler(LoginRequired, _login_required)
