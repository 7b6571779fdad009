"""The pages' session: the issue-9 login (`cloud.accounts.Accounts`) behind an HttpOnly cookie.

The cookie ``indeklima_session`` holds the same opaque session token the API hands out as a
bearer token: one way to authenticate, two carriers. It is ``HttpOnly`` (no script reads it),
``Secure`` (browsers treat http://127.0.0.1 and localhost as secure contexts, so tests over
plain loopback work; behind a TLS proxy it is what keeps it off the wire in clear), and
``SameSite=Lax`` (not sent with cross-site POSTs; a link from an e-mail still opens the page
logged in). Its Max-Age is the session's lifetime (`LoginPolicy.session_ttl`); the server decides
all the same (expiry, log out, revocation: an expired cookie sends the browser to the login).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cloud.accounts.http import SESSION_COOKIE
from cloud.accounts.principal import Principal
from cloud.web import csrf


@dataclass(frozen=True, slots=True)
class WebSession:
    """The person behind a request's cookie, with the CSRF token of their forms."""

    principal: Principal
    token: str
    csrf_token: str


class LoginRequired(Exception):
    """No (live) session: the handler sends the browser to the login, `expired` says whether
    a cookie was presented that no longer opens a session."""

    def __init__(self, next_path: str, *, expired: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


def safe_next(value: str | None) -> str:
    """A local path to go to after login; anything else (other sites, ``//host``,
    backslashes, control characters) becomes ``/``."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 for ch in value)
        or len(value) > 500
    ):
        return "/"
    return value


def set_session_cookie(response: Response, token: str, max_age_s: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age_s,
        httponly=True,
        secure=True,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")


def login_redirect(next_path: str, *, expired: bool) -> RedirectResponse:
    query = f"?next={quote(safe_next(next_path), safe='/')}"
    if expired:
        query += "&expired=1"
    response = RedirectResponse("/login" + query, status_code=303)
    if expired:
        clear_session_cookie(response)
    return response


def request_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def presession(request: Request) -> tuple[str, bool]:
    """The pre-login CSRF binding: (value, whether it is new and must be set as a cookie)."""
    value = request.cookies.get(csrf.PRESESSION_COOKIE)
    if value and 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return csrf.new_binding(), True


def set_presession_cookie(response: Response, value: str) -> None:
    response.set_cookie(
        csrf.PRESESSION_COOKIE, value, httponly=True, secure=True, samesite="strict", path="/"
    )
