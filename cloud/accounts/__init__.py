"""Accounts: people, their roles and scopes, login sessions, residents' consent, the audit trail.

Everything here is shared by the JSON API (`cloud.api`) and the web pages (`cloud.web`); pages
call these services directly, never the API over HTTP.

Database
    ``indeklima db upgrade [--db-url URL]`` (Alembic, shipped in ``migrations/``; default
    ``sqlite:///accounts.db``, PostgreSQL as ``postgresql+psycopg://…``), then
    ``indeklima db seed --registry registry.toml [--organisation ORG]`` adds the buildings and
    flats. In code: ``engine = db.make_engine(url); db.upgrade(engine);
    db.seed_registry(engine, registry)``.

The one object: ``Accounts(engine)`` (`cloud.accounts.service`)
    The app creates it at start-up and keeps it on ``app.state.accounts``; a route gets it with
    the dependency ``AccountsDep`` (`cloud.accounts.http`), any code with
    ``cloud.accounts.http.get_accounts(request)``.

Login, logout, who is asking (API: bearer header; pages: the same token in a cookie)
    ``accounts.login(username, password, address) -> (token, Principal)`` raises
    ``LoginFailed`` (wrong name/password, or disabled), ``LockedOut`` (a `LoginFailed`; its
    ``locked_until`` is an aware UTC datetime; its message says when in Danish time) or
    ``cloud.accounts.passwords.HasherBusy`` (too many logins at once: answer 503). The pages
    put ``token`` in the HttpOnly, Secure, SameSite=Lax cookie named ``SESSION_COOKIE`` (=
    ``"indeklima_session"``), max-age ``accounts.policy.session_ttl``.
    ``accounts.principal_for_token(token) -> Principal | None`` (None: unknown, expired,
    revoked, or the user disabled) — call it for every request; pages may use
    ``cloud.accounts.http.principal_from_cookie(request) -> Principal | None``.
    ``accounts.logout(token, address=...) -> bool`` ends that session.
    The API's dependency: ``CurrentPrincipal`` (`cloud.accounts.http`, 401 without a valid
    bearer token). ``client_address(request)`` is the address to pass as ``address``.

    ``Principal`` (frozen): ``user_id, username, display_name, role: Role, flats:
    frozenset[(building_id, flat_id)]`` (the flats a resident lives in now), ``buildings:
    frozenset[str], organisations: frozenset[str], residences: tuple[Residence, ...]`` (a
    resident's tenancies [since, until), current and moved out); ``Role`` is ``resident |
    technician | finance | admin``.

Who may see and do what: ONLY `cloud.accounts.scope` decides
    ``scope.check_flat(principal, building_id, flat_id, FlatView.X, consented=...)``,
    ``scope.check_building(principal, building_id, BuildingView.X)``,
    ``scope.check_building_list(principal)``, ``scope.check_alerts(principal)``,
    ``scope.check_admin(principal)`` raise
    ``scope.Denied`` (``.status`` 403 or 404, ``.reason`` Danish / English) or return.
    ``FlatView``: SUMMARY (monthly figures, key figures, alerts' kind and severity, sensor
    health), DETAIL (readings; staff need the flat's consent), CONSENT_READ, CONSENT_WRITE
    (the flat's residents only), HEAT_SHARE (the resident's own estimate).
    ``BuildingView``: STRUCTURE, CLIMATE, HEAT_SHARES, SETTLEMENTS.
    Lists: ``scope.visible_flats(principal, accounts.flats())``,
    ``scope.visible_buildings(principal, ids)``, ``scope.alert_scope(principal)``.
    Time: ``scope.readable_window(principal, flat_id, start, end)`` clips a resident's reads
    to their tenancy (nothing before moving in); ``scope.own_periods(principal, now)`` are the
    tenancies their export and erasure cover.
    A read of detailed readings by anyone but the flat's resident must be audited:
    ``if scope.needs_detail_audit(principal, flat_id): accounts.audit(principal,
    AuditAction.DETAIL_READ, flat_id=..., building_id=..., address=...)``.
    ``accounts.building_of(flat_id) -> str | None`` finds a flat's building.

Consent
    ``accounts.consent(flat_id) -> Consent`` (``staff_detail: bool, at, by``),
    ``accounts.consented(flat_id) -> bool``, ``accounts.consent_history(flat_id) ->
    list[Consent]`` (oldest first), ``accounts.set_consent(principal, flat_id, staff_detail,
    address=...) -> Consent`` (check ``FlatView.CONSENT_WRITE`` first; it is audited).

Audit trail (append-only; the database refuses UPDATE and DELETE)
    ``accounts.audit(principal_or_None, AuditAction.X, flat_id=, building_id=, run_id=,
    address=, detail={...})``; ``accounts.audit_entries(AuditQuery(username=, flat_id=,
    action=, since=, until=, limit=))`` newest first.

GDPR
    ``accounts.personal_data(principal)``, ``accounts.resident_since(principal, flat_id)``,
    ``accounts.request_erasure(principal, address=)``, ``accounts.erasure_requests()``,
    ``accounts.complete_erasure(request_id, admin_principal, store=, runs=)``; what is kept
    and deleted: ``cloud.accounts.gdpr.KEPT`` / ``DELETED``, and which readings:
    ``cloud.accounts.erasure.erasure_plan`` (the API's export: ``cloud.api.routes.me``).

Users (``indeklima users …`` and the admin API)
    ``create_user(username, role, password, display_name=, by=, address=)``,
    ``set_password(username, password, by=)`` (ends the user's sessions),
    ``set_disabled(username, True|False, by=)`` (disabling ends the sessions),
    ``assign(username, ScopeKind.BUILDING|ORGANISATION, scope_id, by=)``, ``unassign(...)``,
    ``add_resident(username, flat_id, since=, by=)``, ``move_out(username, flat_id, until,
    by=)`` (ends the tenancy, keeps it; ``users.move_out_instant("YYYY-MM-DD")`` is a Danish
    day's midnight), ``remove_resident(...)`` (a link made by mistake), ``user(username)``,
    ``users(role=None) -> list[UserInfo]``. Usernames are case-insensitive (kept casefolded).
    Errors: ``AccountError`` (and ``PasswordRejected``), messages Danish / English.
"""

from cloud.accounts.audit import AuditAction, AuditEntry, AuditQuery
from cloud.accounts.consent import Consent
from cloud.accounts.errors import AccountError, PasswordRejected, UnknownUser
from cloud.accounts.principal import Principal, Role, ScopeKind
from cloud.accounts.scope import BuildingView, Denied, FlatView
from cloud.accounts.service import Accounts, LockedOut, LoginFailed, LoginPolicy
from cloud.accounts.users import UserInfo

__all__ = [
    "AccountError",
    "Accounts",
    "AuditAction",
    "AuditEntry",
    "AuditQuery",
    "BuildingView",
    "Consent",
    "Denied",
    "FlatView",
    "LockedOut",
    "LoginFailed",
    "LoginPolicy",
    "PasswordRejected",
    "Principal",
    "Role",
    "ScopeKind",
    "UnknownUser",
    "UserInfo",
]
