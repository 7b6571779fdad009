"""``/``: each person's start page by role, and ``/flats/{flat_id}``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cloud.accounts.principal import Role
from cloud.web.common import PageUser
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


@router.get("/flats/{flat_id}")
def flat(request: Request, user: PageUser, flat_id: str, range: str = "week") -> Response:
    if user.principal.role is Role.RESIDENT:
        return resident.now_page(request, user, flat_id)
    from cloud.web.pages import technician

    return technician.flat_page(request, user, flat_id, range)
