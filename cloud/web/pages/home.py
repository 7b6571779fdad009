"""``/``: each person's start page by role, and ``/flats/{key}``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cloud.accounts.principal import Role
from cloud.accounts.scope import NOT_FOUND, flat_not_found
from cloud.api.deps import flat_of_key
from cloud.web.common import PageDenied, PageUser
from cloud.web.pages import resident

router = APIRouter(include_in_schema=False)


@router.get("/")
def start(request: Request, user: PageUser) -> Response:
    role = user.principal.role
    if role is Role.RESIDENT:
        return resident.now_page(request, user)
    from cloud.web.pages import admin, finance, technician

    if role is Role.TECHNICIAN:
        return technician.estate_page(request, user)
    if role is Role.FINANCE:
        return finance.runs_page(request, user)
    return admin.users_page(request, user)


@router.get("/flats/{key}")
def flat(request: Request, user: PageUser, key: str, range: str = "week") -> Response:
    """The flat whose URL key is `key` (`cloud.api.deps.flat_of_key`, as the API); a key no
    flat has is 404, as the API answers (a raw id like ``1,10`` is not a key)."""
    ref = flat_of_key(request.app.state.context.registry, key)
    if ref is None:
        raise PageDenied(NOT_FOUND, flat_not_found(key).reason)
    flat_id = ref.flat_id
    if user.principal.role is Role.RESIDENT:
        return resident.now_page(request, user, flat_id)
    from cloud.web.pages import technician

    return technician.flat_page(request, user, flat_id, range)
