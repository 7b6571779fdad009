"""Bearer-token roles: technician and finance, one token each from `ApiSettings`.

401 without a token or with an unknown one (with ``WWW-Authenticate: Bearer``, RFC 6750 §3),
403 when the token is valid but its role may not use the endpoint. Tokens are compared with
`secrets.compare_digest` against every role, so the time taken does not tell which role (or
how much of a token) matched.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cloud.api.settings import ApiSettings


class Role(StrEnum):
    TECHNICIAN = "technician"
    FINANCE = "finance"


def role_for(settings: ApiSettings, token: str) -> Role | None:
    """The role whose token this is, or None."""
    presented = token.encode("utf-8")
    found: Role | None = None
    for role, secret in (
        (Role.TECHNICIAN, settings.technician_token),
        (Role.FINANCE, settings.finance_token),
    ):
        expected = secret.get_secret_value().encode("utf-8") if secret is not None else b""
        if expected and secrets.compare_digest(presented, expected):
            found = role
    return found


_bearer = HTTPBearer(
    auto_error=False,
    description="Rollens nøgle / the role's token: INDEKLIMA_API_TECHNICIAN_TOKEN or "
    "INDEKLIMA_API_FINANCE_TOKEN",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_role(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Role:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Log ind: send headeren 'Authorization: Bearer <nøgle>' / log in: send the header "
            "'Authorization: Bearer <token>'",
            headers=_CHALLENGE,
        )
    settings: ApiSettings = request.app.state.settings
    role = role_for(settings, credentials.credentials)
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Ugyldig nøgle: brug din rolles nøgle / invalid token: use your role's token",
            headers=_CHALLENGE,
        )
    return role


CurrentRole = Annotated[Role, Depends(current_role)]


def require(*allowed: Role) -> Callable[[Role], Role]:
    """A dependency that lets only the given roles through (403 for the others)."""
    names = " eller / or ".join(r.value for r in allowed)

    def check(role: CurrentRole) -> Role:
        if role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"Rollen {role} har ikke adgang her; det kræver {names} / the role {role} may "
                f"not use this; it needs {names}",
            )
        return role

    return check


TechnicianRole = Annotated[Role, Depends(require(Role.TECHNICIAN))]
FinanceRole = Annotated[Role, Depends(require(Role.FINANCE))]
StaffRole = Annotated[Role, Depends(require(Role.TECHNICIAN, Role.FINANCE))]
