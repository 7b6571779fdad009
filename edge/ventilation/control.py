"""The window controller's decision: a pure function of readings, weather, set points, building
rules, the clock and the window's state (no I/O; `service` feeds it and carries out the result).

Priority (DOMAIN.md "Automatic window safety"), highest first — the first tier that has
something to say decides:

1. **safety** — a required weather input missing or stale, rain, wind above the limit, and wind
   that has not yet stayed below the limit for `wind_calm_s`: the window closes (or stays
   closed), whoever opened it. These override even a resident's hand and a technician.
2. **manual** — a manual operation on site suspends automation for `manual_suspend_s`: the
   window is left where the resident put it.
3. **rules** — frost, the winter maximum open time, night, absence and ground-floor rules of the
   building: they stop the technician's and the automatic openings (not the resident's).
4. **technician** — an override command (open to x % / close) until it ends or is released.
5. **automatic** — CO2 and humidity-peak openings with hysteresis, scheduled short airings when
   occupied, minimum/maximum open time, minimum interval between openings.

A command that has expired when it reaches the controller is never executed (outcome
``expired``). Every `Decision` names the rule that decided and its tier, with a Danish and an
English sentence for the technician.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from edge.ventilation.settings import BuildingRules, Setpoints

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")


class Tier(StrEnum):
    SAFETY = "safety"
    MANUAL = "manual"
    RULE = "rule"
    TECHNICIAN = "technician"
    AUTOMATIC = "automatic"


class Rule(StrEnum):
    # safety
    WEATHER_MISSING = "weather_missing"
    RAIN = "rain"
    WIND = "wind"
    WIND_CALM_WAIT = "wind_calm_wait"
    # manual
    MANUAL = "manual"
    # building rules
    FROST = "frost"
    WINTER_MAX_OPEN = "winter_max_open"
    NIGHT = "night"
    ABSENCE = "absence"
    GROUND_FLOOR_NIGHT = "ground_floor_night"
    # technician
    TECHNICIAN = "technician"
    # automatic
    CO2_HIGH = "co2_high"
    HUMIDITY_PEAK = "humidity_peak"
    SCHEDULED_AIRING = "scheduled_airing"
    MIN_OPEN_TIME = "min_open_time"
    MAX_OPEN_TIME = "max_open_time"
    MIN_INTERVAL = "min_interval"
    AIR_OK = "air_ok"
    """Closed, or closing: CO2 and RH below the closing levels and no airing due."""


TEXT: dict[Rule, tuple[str, str]] = {
    Rule.WEATHER_MISSING: (
        "Lukket: vejrdata (regn/vind/udetemperatur) mangler eller er for gamle — tjek vejrmasten",
        "Closed: weather input (rain/wind/outdoor T) missing or stale — check the weather mast",
    ),
    Rule.RAIN: ("Lukket: regn", "Closed: rain"),
    Rule.WIND: ("Lukket: vind over grænsen", "Closed: wind above the limit"),
    Rule.WIND_CALM_WAIT: (
        "Lukket: venter på at vinden har været under grænsen længe nok",
        "Closed: waiting for the wind to stay below the limit long enough",
    ),
    Rule.MANUAL: (
        "Betjent manuelt på stedet: automatikken venter",
        "Operated by hand on site: automation suspended",
    ),
    Rule.FROST: ("Lukket: frost udenfor", "Closed: frost outdoors"),
    Rule.WINTER_MAX_OPEN: (
        "Lukket: længste åbningstid om vinteren nået",
        "Closed: winter maximum open time reached",
    ),
    Rule.NIGHT: ("Lukket: nattetid (husorden)", "Closed: night (house rules)"),
    Rule.ABSENCE: ("Lukket: ingen hjemme (husorden)", "Closed: nobody home (house rules)"),
    Rule.GROUND_FLOOR_NIGHT: (
        "Lukket: stueetage om natten (husorden)",
        "Closed: ground floor at night (house rules)",
    ),
    Rule.TECHNICIAN: ("Styret af tekniker", "Set by a technician"),
    Rule.CO2_HIGH: ("Åben: CO2 over sætpunktet", "Open: CO2 above the set point"),
    Rule.HUMIDITY_PEAK: (
        "Åben: fugttop (bad, madlavning)",
        "Open: humidity peak (shower, cooking)",
    ),
    Rule.SCHEDULED_AIRING: ("Åben: planlagt udluftning", "Open: scheduled airing"),
    Rule.MIN_OPEN_TIME: (
        "Åben: mindste åbningstid ikke nået",
        "Open: minimum open time not reached",
    ),
    Rule.MAX_OPEN_TIME: ("Lukket: længste åbningstid nået", "Closed: maximum open time reached"),
    Rule.MIN_INTERVAL: (
        "Lukket: for kort tid siden sidste åbning",
        "Closed: too soon after the last opening",
    ),
    Rule.AIR_OK: ("Lukket: luften er god", "Closed: the air is fine"),
}

TIER_OF: dict[Rule, Tier] = {
    **dict.fromkeys((Rule.WEATHER_MISSING, Rule.RAIN, Rule.WIND, Rule.WIND_CALM_WAIT), Tier.SAFETY),
    Rule.MANUAL: Tier.MANUAL,
    **dict.fromkeys(
        (
            Rule.FROST,
            Rule.WINTER_MAX_OPEN,
            Rule.NIGHT,
            Rule.ABSENCE,
            Rule.GROUND_FLOOR_NIGHT,
        ),
        Tier.RULE,
    ),
    Rule.TECHNICIAN: Tier.TECHNICIAN,
}


class Outcome(StrEnum):
    EXECUTED = "executed"
    """Accepted and in force (the window follows it)."""
    BLOCKED = "blocked"
    """Accepted, but a higher tier decides now (the decision's rule says which)."""
    RELEASED = "released"
    EXPIRED = "expired"
    """Arrived after its expiry: never executed."""


@dataclass(frozen=True, slots=True)
class Measured:
    value: float
    time: datetime


@dataclass(frozen=True, slots=True)
class Command:
    """A technician's one-off command (decoded from ``…/windows/<id>/cmd``)."""

    id: str
    """Correlation id: the outcome answers it."""
    action: str
    """``open`` (to `target_pct`), ``close`` or ``release`` (back to automatic)."""
    target_pct: float
    expires: datetime
    hold_s: float
    """How long the override holds once executed."""


@dataclass(frozen=True, slots=True)
class Override:
    target_pct: float
    until: datetime
    command_id: str


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the I/O layer measured; None is "not available"."""

    rain: Measured | None = None
    """1.0 raining, 0.0 dry."""
    wind_ms: Measured | None = None
    outdoor_c: Measured | None = None
    co2_ppm: Measured | None = None
    humidity_pct: Measured | None = None
    humidity_low_pct: float | None = None
    """Lowest RH of the last half hour (a peak is a rise above it)."""
    occupied: bool | None = None
    manual_pct: float | None = None
    """A manual operation on site happened since the last step, leaving the window at this %."""
    command: Command | None = None
    """A command that arrived since the last step."""


@dataclass(frozen=True, slots=True)
class WindowState:
    target_pct: float = 0.0
    opened_at: datetime | None = None
    """Start of the current opening (None while closed)."""
    closed_at: datetime | None = None
    open_reason: Rule | None = None
    wind_calm_since: datetime | None = None
    """Since when the wind has been known and below the limit (None: above it, or unknown)."""
    manual_until: datetime | None = None
    closed_by: Rule | None = None
    override: Override | None = None
    airings_done: tuple[str, ...] = field(default=())
    """Keys (local date + time) of today's scheduled airings already done (bounded to 8)."""


@dataclass(frozen=True, slots=True)
class Decision:
    time: datetime
    target_pct: float
    rule: Rule
    tier: Tier
    text_da: str
    text_en: str
    command_id: str | None = None
    outcome: Outcome | None = None
    """The outcome of the command that arrived in this step (None if none arrived)."""


def _fresh(m: Measured | None, now: datetime, max_age_s: float) -> Measured | None:
    if m is None:
        return None
    age = (now - m.time).total_seconds()
    return m if -60.0 <= age <= max_age_s else None  # a reading from the future is a clock fault


def _in_span(local: time, start: time, end: time) -> bool:
    return start <= local < end if start <= end else (local >= start or local < end)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _due_airing(now: datetime, sp: Setpoints, done: tuple[str, ...]) -> str | None:
    """Key of a scheduled airing that is due now and not yet done."""
    local = now.astimezone(LOCAL_TZ)
    for slot in sp.airing_times:
        start = datetime.combine(local.date(), _hhmm(slot), LOCAL_TZ)
        key = f"{local.date().isoformat()}T{slot}"
        if start <= local < start + timedelta(seconds=sp.airing_window_s) and key not in done:
            return key
    return None


def step(
    now: datetime,
    inputs: Inputs,
    sp: Setpoints,
    rules: BuildingRules,
    state: WindowState,
    *,
    ground_floor: bool = False,
) -> tuple[Decision, WindowState]:
    """One control step for one window: the decision and the window's next state."""
    st = state
    outcome: Outcome | None = None
    command_id: str | None = None
    cmd = inputs.command
    if cmd is not None:
        command_id = cmd.id
        if cmd.expires <= now:
            outcome = Outcome.EXPIRED
        elif cmd.action == "release":
            st, outcome = replace(st, override=None), Outcome.RELEASED
        else:
            wanted_pct = cmd.target_pct if cmd.action == "open" else 0.0
            until = now + timedelta(seconds=cmd.hold_s)
            st = replace(st, override=Override(wanted_pct, until, cmd.id))
    if st.override is not None and st.override.until <= now:
        st = replace(st, override=None)
    if inputs.manual_pct is not None:
        until = now + timedelta(seconds=sp.manual_suspend_s)
        st = _moved(replace(st, manual_until=until), now, inputs.manual_pct, None)

    rain = _fresh(inputs.rain, now, rules.max_input_age_s)
    wind = _fresh(inputs.wind_ms, now, rules.max_input_age_s)
    outdoor = _fresh(inputs.outdoor_c, now, rules.max_input_age_s)
    if wind is None or wind.value > sp.wind_limit_ms:
        st = replace(st, wind_calm_since=None)
    elif st.wind_calm_since is None:
        st = replace(st, wind_calm_since=now)

    rule, target = _decide(now, inputs, sp, rules, st, rain, wind, outdoor, ground_floor)
    if target is None:  # manual: leave it where the resident put it
        target = st.target_pct
    else:
        reason = rule if TIER_OF.get(rule, Tier.AUTOMATIC) == Tier.AUTOMATIC else None
        if target > 0 and rule is Rule.SCHEDULED_AIRING and st.target_pct == 0:
            key = _due_airing(now, sp, st.airings_done)
            if key is not None:
                st = replace(st, airings_done=(*st.airings_done, key)[-8:])
        if target > 0 and reason is None and st.target_pct > 0:
            reason = st.open_reason
        was_open = st.target_pct > 0
        st = _moved(st, now, target, reason if target > 0 else None)
        if rule is Rule.MIN_OPEN_TIME:
            st = replace(st, open_reason=state.open_reason)
        if was_open and target == 0:
            st = replace(st, closed_by=rule)
    tier = TIER_OF.get(rule, Tier.AUTOMATIC)
    if cmd is not None and outcome is None:
        in_force = st.override is not None and st.override.command_id == cmd.id
        outcome = Outcome.EXECUTED if in_force and tier is Tier.TECHNICIAN else Outcome.BLOCKED
    da, en = TEXT[rule]
    decision = Decision(now, target, rule, tier, da, en, command_id, outcome)
    return decision, st


def _moved(st: WindowState, now: datetime, target: float, reason: Rule | None) -> WindowState:
    """State after the window is set to `target` (opening/closing times kept for the timers)."""
    if target > 0 and st.target_pct == 0:
        return replace(st, target_pct=target, opened_at=now, open_reason=reason)
    if target == 0 and st.target_pct > 0:
        return replace(st, target_pct=0.0, opened_at=None, closed_at=now, open_reason=None)
    return replace(st, target_pct=target, open_reason=reason if target > 0 else None)


def _decide(
    now: datetime,
    inputs: Inputs,
    sp: Setpoints,
    rules: BuildingRules,
    st: WindowState,
    rain: Measured | None,
    wind: Measured | None,
    outdoor: Measured | None,
    ground_floor: bool,
) -> tuple[Rule, float | None]:
    """(the deciding rule, the target %; None = leave the window where it is)."""
    # 1. safety
    if rain is None or wind is None or outdoor is None:
        return Rule.WEATHER_MISSING, 0.0
    if rain.value >= 0.5:
        return Rule.RAIN, 0.0
    if wind.value > sp.wind_limit_ms:
        return Rule.WIND, 0.0
    calm_s = (now - st.wind_calm_since).total_seconds() if st.wind_calm_since else 0.0
    if calm_s < sp.wind_calm_s:
        return Rule.WIND_CALM_WAIT, 0.0
    # 2. manual
    if st.manual_until is not None and now < st.manual_until:
        return Rule.MANUAL, None
    # 4./5. what the technician or the automation wants, then 3. the rules that may stop it
    if st.override is not None:
        wanted: tuple[Rule, float] = (Rule.TECHNICIAN, st.override.target_pct)
    else:
        wanted = _automatic(now, inputs, sp, rules, st)
    if wanted[1] > 0:
        blocked = _rules_against_open(now, inputs, sp, rules, st, outdoor, ground_floor)
        if blocked is not None:
            return blocked, 0.0
    return wanted


def _rules_against_open(
    now: datetime,
    inputs: Inputs,
    sp: Setpoints,
    rules: BuildingRules,
    st: WindowState,
    outdoor: Measured,
    ground_floor: bool,
) -> Rule | None:
    if outdoor.value < sp.frost_below_c:
        return Rule.FROST
    if outdoor.value < sp.winter_below_c:
        if st.opened_at is not None:
            if (now - st.opened_at).total_seconds() >= sp.winter_max_open_s:
                return Rule.WINTER_MAX_OPEN
        elif (
            st.closed_by is Rule.WINTER_MAX_OPEN
            and st.closed_at is not None
            and (now - st.closed_at).total_seconds() < sp.min_interval_s
        ):
            return Rule.WINTER_MAX_OPEN
    night = _in_span(
        now.astimezone(LOCAL_TZ).time(), _hhmm(rules.night_start), _hhmm(rules.night_end)
    )
    if night and rules.night_closed:
        return Rule.NIGHT
    if inputs.occupied is False and rules.closed_when_absent:
        return Rule.ABSENCE
    if night and rules.ground_floor_closed_at_night and ground_floor:
        return Rule.GROUND_FLOOR_NIGHT
    return None


def _automatic(
    now: datetime, inputs: Inputs, sp: Setpoints, rules: BuildingRules, st: WindowState
) -> tuple[Rule, float]:
    co2 = _fresh(inputs.co2_ppm, now, rules.max_indoor_age_s)
    rh = _fresh(inputs.humidity_pct, now, rules.max_indoor_age_s)
    low = inputs.humidity_low_pct if rh is not None else None
    if st.target_pct > 0:
        opened_s = (now - st.opened_at).total_seconds() if st.opened_at else 0.0
        if opened_s >= sp.max_open_s:
            return Rule.MAX_OPEN_TIME, 0.0
        # hysteresis: the reason that opened the window holds until its closing level
        if co2 is not None and (
            co2.value > sp.co2_open_ppm
            or (
                st.open_reason is Rule.CO2_HIGH
                and co2.value > sp.co2_open_ppm - sp.co2_hysteresis_ppm
            )
        ):
            return Rule.CO2_HIGH, st.target_pct
        if rh is not None and (
            rh.value >= sp.humidity_open_pct
            or (
                st.open_reason is Rule.HUMIDITY_PEAK
                and (
                    rh.value > sp.humidity_open_pct - sp.humidity_hysteresis_pct
                    or (low is not None and rh.value - low >= sp.humidity_rise_pct)
                )
            )
        ):
            return Rule.HUMIDITY_PEAK, st.target_pct
        if st.open_reason is Rule.SCHEDULED_AIRING and opened_s < sp.airing_s:
            return Rule.SCHEDULED_AIRING, st.target_pct
        if opened_s < sp.min_open_s:
            return Rule.MIN_OPEN_TIME, st.target_pct
        return Rule.AIR_OK, 0.0
    wanted: Rule | None = None
    if co2 is not None and co2.value > sp.co2_open_ppm:
        wanted = Rule.CO2_HIGH
    elif rh is not None and (
        rh.value >= sp.humidity_open_pct
        or (low is not None and rh.value - low >= sp.humidity_rise_pct)
    ):
        wanted = Rule.HUMIDITY_PEAK
    elif inputs.occupied and _due_airing(now, sp, st.airings_done) is not None:
        wanted = Rule.SCHEDULED_AIRING
    if wanted is None:
        return Rule.AIR_OK, 0.0
    if st.closed_at is not None and (now - st.closed_at).total_seconds() < sp.min_interval_s:
        return Rule.MIN_INTERVAL, 0.0
    return wanted, sp.open_pct
