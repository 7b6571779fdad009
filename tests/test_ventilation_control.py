"""The window controller's decision function: one table row per interlock, per priority conflict
and per automatic rule (DOMAIN.md "Automatic window safety"), then a day without the cloud."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge.ventilation.control import (
    Command,
    Inputs,
    Measured,
    Outcome,
    Rule,
    Tier,
    WindowState,
    step,
)
from edge.ventilation.settings import BuildingRules, Setpoints, parse_setpoints

# 10:00 local time on a winter weekday (UTC+1): no scheduled airing due (07:30, 12:30, 18:30)
T0 = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
SP = Setpoints()
RULES = BuildingRules()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def calm_state(**changes: Any) -> WindowState:
    """Closed long ago, wind calm for an hour."""
    base = WindowState(closed_at=at(-7200), wind_calm_since=at(-3600))
    return replace(base, **changes)


def open_state(reason: Rule, opened_s_ago: float, **changes: Any) -> WindowState:
    return calm_state(target_pct=100.0, opened_at=at(-opened_s_ago), open_reason=reason, **changes)


@dataclass(frozen=True)
class Env:
    """Readings at time `t` (seconds after T0); weather fresh unless told otherwise."""

    co2: float | None = 700.0
    rh: float | None = 45.0
    rh_low: float | None = 44.0
    rain: float | None = 0.0
    wind: float | None = 3.0
    outdoor: float | None = 5.0
    weather_age_s: float = 5.0
    wind_age_s: float | None = None
    occupied: bool | None = True
    manual: float | None = None
    command: Command | None = None

    def inputs(self, t: float) -> Inputs:
        now = at(t)

        def m(value: float | None, age: float | None = None) -> Measured | None:
            age_s = self.weather_age_s if age is None else age
            return None if value is None else Measured(value, now - timedelta(seconds=age_s))

        return Inputs(
            rain=m(self.rain),
            wind_ms=m(self.wind, self.wind_age_s),
            outdoor_c=m(self.outdoor),
            co2_ppm=m(self.co2, 30.0),
            humidity_pct=m(self.rh, 30.0),
            humidity_low_pct=self.rh_low,
            occupied=self.occupied,
            manual_pct=self.manual,
            command=self.command,
        )


def cmd(
    action: str, target: float = 100.0, expires_s: float = 300.0, hold_s: float = 3600.0
) -> Command:
    return Command("c-1", action, target, at(expires_s), hold_s)


@dataclass(frozen=True)
class Case:
    state: WindowState
    steps: list[tuple[float, Env]]
    rule: Rule
    target_pct: float
    outcome: Outcome | None = None
    setpoints: Setpoints = SP
    rules: BuildingRules = RULES
    ground_floor: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


HIGH = Env(co2=1300.0)
CO2_OPEN = open_state(Rule.CO2_HIGH, 600)

CASES: dict[str, Case] = {
    # -- safety interlocks ----------------------------------------------------------------
    "rain closes at once": Case(CO2_OPEN, [(0, Env(co2=1300, rain=1.0))], Rule.RAIN, 0),
    "wind above the limit closes": Case(CO2_OPEN, [(0, Env(co2=1300, wind=14))], Rule.WIND, 0),
    "wind below the limit for 5 min still blocks opening": Case(
        calm_state(wind_calm_since=None),
        [(0, Env(co2=1300, wind=14)), (1, HIGH), (300, HIGH)],
        Rule.WIND_CALM_WAIT,
        0,
    ),
    "wind below the limit for 10 min allows opening": Case(
        calm_state(wind_calm_since=None),
        [(0, Env(co2=1300, wind=14)), (1, HIGH), (300, HIGH), (602, HIGH)],
        Rule.CO2_HIGH,
        100,
    ),
    "a gust in the calm period restarts the 10 min": Case(
        calm_state(wind_calm_since=None),
        [(0, HIGH), (500, Env(co2=1300, wind=11)), (700, HIGH), (1000, HIGH)],
        Rule.WIND_CALM_WAIT,
        0,
    ),
    "stale wind sensor closes": Case(
        CO2_OPEN, [(0, Env(co2=1300, wind_age_s=600))], Rule.WEATHER_MISSING, 0
    ),
    "missing rain sensor closes": Case(
        CO2_OPEN, [(0, Env(co2=1300, rain=None))], Rule.WEATHER_MISSING, 0
    ),
    "missing outdoor temperature closes": Case(
        CO2_OPEN, [(0, Env(co2=1300, outdoor=None))], Rule.WEATHER_MISSING, 0
    ),
    "weather from the future (clock fault) counts as missing": Case(
        CO2_OPEN, [(0, Env(co2=1300, weather_age_s=-3600))], Rule.WEATHER_MISSING, 0
    ),
    "a stale wind input restarts the 10 min calm wait": Case(
        calm_state(),
        [(0, Env(co2=1300, wind_age_s=600)), (60, HIGH)],
        Rule.WIND_CALM_WAIT,
        0,
    ),
    # -- building rules -------------------------------------------------------------------
    "frost blocks airing": Case(calm_state(), [(0, Env(co2=1300, outdoor=-3))], Rule.FROST, 0),
    "frost closes an automatic opening": Case(
        CO2_OPEN, [(0, Env(co2=1300, outdoor=-1))], Rule.FROST, 0
    ),
    "winter maximum open time closes": Case(
        open_state(Rule.CO2_HIGH, 1801), [(0, HIGH)], Rule.WINTER_MAX_OPEN, 0
    ),
    "no winter maximum in mild weather": Case(
        open_state(Rule.CO2_HIGH, 1801), [(0, Env(co2=1300, outdoor=14))], Rule.CO2_HIGH, 100
    ),
    "night rule keeps closed": Case(
        calm_state(),
        [(13 * 3600, HIGH)],  # 23:00 local
        Rule.NIGHT,
        0,
        rules=BuildingRules(night_closed=True),
    ),
    "absence keeps closed": Case(
        calm_state(), [(0, Env(co2=1300, occupied=False))], Rule.ABSENCE, 0
    ),
    "ground floor at night keeps closed": Case(
        calm_state(), [(13 * 3600, HIGH)], Rule.GROUND_FLOOR_NIGHT, 0, ground_floor=True
    ),
    "upper floor at night may open": Case(calm_state(), [(13 * 3600, HIGH)], Rule.CO2_HIGH, 100),
    # -- manual on site -------------------------------------------------------------------
    "manual opening suspends automation": Case(
        calm_state(), [(0, Env(manual=40.0)), (600, Env())], Rule.MANUAL, 40
    ),
    "automation resumes after the suspension": Case(
        calm_state(), [(0, Env(manual=40.0)), (1801, Env())], Rule.AIR_OK, 0
    ),
    # -- priority conflicts ---------------------------------------------------------------
    "rain during a technician's open": Case(
        calm_state(), [(0, Env(rain=1.0, command=cmd("open")))], Rule.RAIN, 0, Outcome.BLOCKED
    ),
    "manual close during automatic airing": Case(
        open_state(Rule.SCHEDULED_AIRING, 60),
        [(0, Env(co2=1300, manual=0.0)), (900, Env(co2=1300))],
        Rule.MANUAL,
        0,
    ),
    "rain overrides a manual opening": Case(
        calm_state(), [(0, Env(manual=80.0)), (60, Env(rain=1.0))], Rule.RAIN, 0
    ),
    "manual operation beats a technician's command": Case(
        calm_state(),
        [(0, Env(manual=0.0)), (60, Env(command=cmd("open", expires_s=400)))],
        Rule.MANUAL,
        0,
        Outcome.BLOCKED,
    ),
    "technician open beats automatic": Case(
        calm_state(), [(0, Env(command=cmd("open", 30.0)))], Rule.TECHNICIAN, 30, Outcome.EXECUTED
    ),
    "technician close beats automatic CO2 opening": Case(
        CO2_OPEN, [(0, Env(co2=1300, command=cmd("close")))], Rule.TECHNICIAN, 0, Outcome.EXECUTED
    ),
    "frost stops a technician's open": Case(
        calm_state(),
        [(0, Env(outdoor=-5, command=cmd("open")))],
        Rule.FROST,
        0,
        Outcome.BLOCKED,
    ),
    "expired command is never executed": Case(
        calm_state(), [(0, Env(command=cmd("open", expires_s=-1)))], Rule.AIR_OK, 0, Outcome.EXPIRED
    ),
    "release returns to automatic": Case(
        calm_state(),
        [
            (0, Env(command=cmd("open"))),
            (30, Env(command=Command("c-2", "release", 0, at(300), 0))),
        ],
        Rule.MIN_OPEN_TIME,
        100,
        Outcome.RELEASED,
    ),
    # -- automatic ------------------------------------------------------------------------
    "CO2 above the set point opens": Case(calm_state(), [(0, HIGH)], Rule.CO2_HIGH, 100),
    "CO2 inside the hysteresis band stays open": Case(
        CO2_OPEN, [(0, Env(co2=850))], Rule.CO2_HIGH, 100
    ),
    "CO2 below the hysteresis band closes": Case(CO2_OPEN, [(0, Env(co2=790))], Rule.AIR_OK, 0),
    "CO2 inside the band does not open a closed window": Case(
        calm_state(), [(0, Env(co2=900))], Rule.AIR_OK, 0
    ),
    "minimum open time holds": Case(
        open_state(Rule.CO2_HIGH, 120), [(0, Env(co2=600))], Rule.MIN_OPEN_TIME, 100
    ),
    "maximum open time closes": Case(
        open_state(Rule.CO2_HIGH, 3601),
        [(0, Env(co2=1300, outdoor=14))],
        Rule.MAX_OPEN_TIME,
        0,
    ),
    "minimum interval between openings": Case(
        calm_state(closed_at=at(-300)), [(0, HIGH)], Rule.MIN_INTERVAL, 0
    ),
    "humidity above the set point opens": Case(
        calm_state(), [(0, Env(rh=72, rh_low=65))], Rule.HUMIDITY_PEAK, 100
    ),
    "a fast humidity rise (shower) opens": Case(
        calm_state(), [(0, Env(rh=58, rh_low=45))], Rule.HUMIDITY_PEAK, 100
    ),
    "humidity back to normal closes": Case(
        open_state(Rule.HUMIDITY_PEAK, 900), [(0, Env(rh=55, rh_low=50))], Rule.AIR_OK, 0
    ),
    "stale indoor readings do not open": Case(
        calm_state(),
        [(0, Env(co2=None, rh=None))],
        Rule.AIR_OK,
        0,
    ),
    "scheduled airing when occupied": Case(
        calm_state(),
        [(2.5 * 3600, Env())],
        Rule.SCHEDULED_AIRING,
        100,  # 12:30 local
    ),
    "no scheduled airing when absent (and absence closes)": Case(
        calm_state(), [(2.5 * 3600, Env(occupied=False))], Rule.AIR_OK, 0
    ),
    "scheduled airing closes after its duration": Case(
        calm_state(),
        [(2.5 * 3600, Env()), (2.5 * 3600 + 421, Env())],
        Rule.AIR_OK,
        0,
    ),
    "a scheduled airing happens once per slot": Case(
        calm_state(),
        [(2.5 * 3600, Env()), (2.5 * 3600 + 421, Env()), (2.5 * 3600 + 1400, Env())],
        Rule.AIR_OK,
        0,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_decision_table(name: str) -> None:
    case = CASES[name]
    state = case.state
    decision = None
    for t, env in case.steps:
        decision, state = step(
            at(t), env.inputs(t), case.setpoints, case.rules, state, ground_floor=case.ground_floor
        )
    assert decision is not None
    assert (decision.rule, decision.target_pct) == (case.rule, case.target_pct)
    assert decision.outcome == case.outcome
    assert decision.tier in Tier
    assert decision.text_da and decision.text_en


def test_override_ends_after_its_hold_and_automation_takes_over() -> None:
    state = calm_state()
    decision, state = step(at(0), Env(command=cmd("open", hold_s=600)).inputs(0), SP, RULES, state)
    assert (decision.rule, decision.target_pct) == (Rule.TECHNICIAN, 100)
    decision, state = step(at(601), Env().inputs(601), SP, RULES, state)
    assert state.override is None
    assert (decision.rule, decision.target_pct) == (Rule.AIR_OK, 0)


def test_winter_maximum_does_not_let_an_override_cycle() -> None:
    state = calm_state()
    decision, state = step(at(0), Env(command=cmd("open", hold_s=7200)).inputs(0), SP, RULES, state)
    decision, state = step(at(1801), Env().inputs(1801), SP, RULES, state)
    assert decision.rule is Rule.WINTER_MAX_OPEN
    decision, state = step(at(1806), Env().inputs(1806), SP, RULES, state)
    assert (decision.rule, decision.target_pct) == (Rule.WINTER_MAX_OPEN, 0)
    decision, state = step(at(1801 + 901), Env().inputs(1801 + 901), SP, RULES, state)
    assert (decision.rule, decision.target_pct) == (Rule.TECHNICIAN, 100)


def test_cloud_gone_for_a_day() -> None:
    """24 h of 1-min steps with no command and no config: the controller keeps the flat's CO2
    in check, never opens in rain or wind, closes when the weather mast fails, and an override
    sent before the outage ends on time."""
    co2 = 900.0
    state = calm_state()
    decision, state = step(at(0), Env(command=cmd("open", hold_s=1800)).inputs(0), SP, RULES, state)
    assert decision.outcome is Outcome.EXECUTED
    openings = 0
    peak_after_first_hour = 0.0
    for minute in range(1, 24 * 60):
        t = minute * 60.0
        raining = 300 <= minute < 360
        windy = 600 <= minute < 620
        mast_broken = 900 <= minute < 960
        env = Env(
            co2=co2,
            rain=1.0 if raining else 0.0,
            wind=15.0 if windy else 4.0,
            weather_age_s=3600.0 if mast_broken else 5.0,
            occupied=True,
        )
        was_open = state.target_pct > 0
        decision, state = step(at(t), env.inputs(t), SP, RULES, state)
        if state.target_pct > 0 and not was_open:
            openings += 1
        if raining or windy or mast_broken:
            assert decision.target_pct == 0, (minute, decision)
        if minute == 31:
            assert state.override is None
        # a one-person flat: +8 ppm/min closed, towards outdoor fast when open
        n_per_min = 0.1 if state.target_pct > 0 else 0.005
        co2 = 420 + (co2 - 420) * math.exp(-n_per_min) + 8.0
        if minute > 60:
            peak_after_first_hour = max(peak_after_first_hour, co2)
    assert openings >= 10
    assert peak_after_first_hour < 1400


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"co2_open_ppm": 5000}, "co2_open_ppm"),
        ({"min_open_s": 900, "max_open_s": 600}, "max_open_s"),
        ({"airing_times": ["25:00"]}, "airing_times"),
        ({"wind_limit_ms": "high"}, "wind_limit_ms"),
        ({"unknown": 1}, "unknown"),
        ([1, 2], "objekt"),
        ({"co2_hysteresis_ppm": 590, "co2_open_ppm": 800}, "co2_hysteresis_ppm"),
    ],
)
def test_bad_setpoints_are_refused_with_the_reason(changes: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_setpoints(SP, changes)


def test_setpoints_merge_over_the_base() -> None:
    merged = parse_setpoints(SP, {"co2_open_ppm": 900})
    assert merged.co2_open_ppm == 900
    assert merged.min_open_s == SP.min_open_s
