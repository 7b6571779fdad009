"""The API's one way to ask `cloud.accounts.scope` about a flat: check, and audit a read of
detailed readings by anyone but the flat's resident."""

from __future__ import annotations

from fastapi import Request

from cloud.accounts import Accounts, AuditAction, FlatView, Principal, scope
from cloud.accounts.http import client_address
from cloud.accounts.principal import STAFF
from cloud.api.deps import FlatRef


def check_flat(
    accounts: Accounts,
    principal: Principal,
    ref: FlatRef,
    view: FlatView,
    request: Request,
    *,
    what: str | None = None,
) -> None:
    """Raise `scope.Denied` unless allowed; a staff read of details is audited (`what`: the
    kind of detail, e.g. ``climate``)."""
    # the consent decides only staff's detail reads: residents and admins need no lookup
    consented = (
        view is FlatView.DETAIL and principal.role in STAFF and accounts.consented(ref.flat_id)
    )
    scope.check_flat(principal, ref.building_id, ref.flat_id, view, consented=consented)
    if view is FlatView.DETAIL and scope.needs_detail_audit(principal, ref.flat_id):
        accounts.audit(
            principal,
            AuditAction.DETAIL_READ,
            flat_id=ref.flat_id,
            building_id=ref.building_id,
            address=client_address(request),
            detail={"what": what or request.url.path, "query": str(request.url.query)[:500]},
        )
