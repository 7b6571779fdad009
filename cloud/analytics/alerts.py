"""Alert lifecycle as a pure state machine: new → escalated → cleared.

One `Track` per (building, flat, kind) — so alerts are deduplicated by construction: a flat has
at most one open alert of each kind. `update(track, value, now, rule)` feeds one observation:

* **raise**: the value has been at or above ``warn_at`` for at least ``raise_after``
  (severity warn, or alarm when it is at/above ``alarm_at``) → state *new*;
* **escalate**: an open warn whose value has been at/above ``alarm_at`` for ``raise_after`` →
  state *escalated*, severity alarm;
* **clear** (hysteresis): the value has been below ``clear_below`` (< ``warn_at``) for at least
  ``clear_after`` → state *cleared*; between the two thresholds nothing changes, so a value
  hovering at the threshold does not flap;
* a missing value (None) changes nothing and does not restart or finish a delay.

Thresholds (`RULES`): mould index warn ≥ 1 (microscopic growth starting), alarm ≥ 3 (visible;
VTT model, DOMAIN.md); surface RH warn ≥ 80 % (RHmin of sensitive materials, Ojanen et al. 2010)
for 6 h, alarm ≥ 90 %; CO2 warn ≥ 1220 ppm (EN 16798-1 category III: 800 above 420 outdoor) for
30 min, alarm ≥ 1770 ppm (category IV); sensor silent warn after 30 min, alarm after 24 h;
actuator fault (value 1 = commanded ≠ reported position after the travel time) warn at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final


class AlertKind(StrEnum):
    MOULD = "mould"
    SURFACE_RH = "surface-rh"
    CO2 = "co2"
    SENSOR_SILENT = "sensor-silent"
    ACTUATOR_FAULT = "actuator-fault"


class Severity(StrEnum):
    WARN = "warn"
    ALARM = "alarm"


class AlertState(StrEnum):
    NEW = "new"
    ESCALATED = "escalated"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Rule:
    warn_at: float
    alarm_at: float | None
    clear_below: float
    raise_after: timedelta = timedelta(0)
    clear_after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if not self.clear_below <= self.warn_at:
            raise ValueError("clear_below must not exceed warn_at (hysteresis)")
        if self.alarm_at is not None and self.alarm_at < self.warn_at:
            raise ValueError("alarm_at must not be below warn_at")


RULES: Final[dict[AlertKind, Rule]] = {
    AlertKind.MOULD: Rule(1.0, 3.0, 0.9, timedelta(0), timedelta(hours=24)),
    AlertKind.SURFACE_RH: Rule(80.0, 90.0, 75.0, timedelta(hours=6), timedelta(hours=6)),
    AlertKind.CO2: Rule(1220.0, 1770.0, 1000.0, timedelta(minutes=30), timedelta(minutes=30)),
    AlertKind.SENSOR_SILENT: Rule(30.0, 24 * 60.0, 10.0),
    AlertKind.ACTUATOR_FAULT: Rule(1.0, None, 0.5, timedelta(0), timedelta(minutes=10)),
}
"""Values: mould index; surface RH %; CO2 ppm; minutes since the last reading; fault 0/1."""

ADVICE: Final[dict[tuple[AlertKind, Severity], tuple[str, str]]] = {
    (AlertKind.MOULD, Severity.WARN): (
        "Risiko for skimmel ved kolde vægge. Luft ud i 10 minutter 2-3 gange om dagen, og hold "
        "soveværelset over 18 °C.",
        "Mould risk at cold walls. Air out for 10 minutes 2-3 times a day and keep the bedroom "
        "above 18 °C.",
    ),
    (AlertKind.MOULD, Severity.ALARM): (
        "Skimmel kan være synlig. Kontakt ejendomskontoret. Luft ud i 10 minutter nu, og hold "
        "soveværelset over 18 °C.",
        "Mould may be visible. Contact the estate office. Air out for 10 minutes now and keep "
        "the bedroom above 18 °C.",
    ),
    (AlertKind.SURFACE_RH, Severity.WARN): (
        "Fugtigt ved de kolde vægge. Hold soveværelset over 18 °C, og tør ikke tøj indendørs.",
        "Damp at the cold walls. Keep the bedroom above 18 °C and do not dry laundry indoors.",
    ),
    (AlertKind.SURFACE_RH, Severity.ALARM): (
        "Meget fugtigt ved de kolde vægge. Luft ud i 10 minutter nu, og hold soveværelset over "
        "18 °C.",
        "Very damp at the cold walls. Air out for 10 minutes now and keep the bedroom above 18 °C.",
    ),
    (AlertKind.CO2, Severity.WARN): ("Luft ud i 10 minutter nu.", "Air out for 10 minutes now."),
    (AlertKind.CO2, Severity.ALARM): (
        "Meget dårlig luft. Luft ud i 10 minutter nu, gerne med gennemtræk.",
        "Very stale air. Air out for 10 minutes now, with a cross-draught if you can.",
    ),
    (AlertKind.SENSOR_SILENT, Severity.WARN): (
        "Måleren sender ikke. Tjek at den har strøm/batteri.",
        "The sensor is silent. Check its power or battery.",
    ),
    (AlertKind.SENSOR_SILENT, Severity.ALARM): (
        "Måleren har været tavs i over et døgn. Teknikeren er underrettet.",
        "The sensor has been silent for over a day. The technician has been told.",
    ),
    (AlertKind.ACTUATOR_FAULT, Severity.WARN): (
        "Vinduesmotoren svarer ikke. Betjen vinduet i hånden; teknikeren er underrettet.",
        "The window motor does not respond. Operate the window by hand; the technician has "
        "been told.",
    ),
}


def advice(kind: AlertKind, severity: Severity) -> tuple[str, str]:
    """(Danish, English) advice for residents."""
    return ADVICE.get((kind, severity)) or ADVICE[(kind, Severity.WARN)]


@dataclass(frozen=True, slots=True)
class Alert:
    building: str
    flat: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    value: float
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.building}/{self.flat}/{self.kind}/{self.raised_at.isoformat()}"

    @property
    def open(self) -> bool:
        return self.state is not AlertState.CLEARED

    @property
    def advice_da(self) -> str:
        return advice(self.kind, self.severity)[0]

    @property
    def advice_en(self) -> str:
        return advice(self.kind, self.severity)[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "building": self.building,
            "flat": self.flat,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "state": self.state.value,
            "value": self.value,
            "raised_at": self.raised_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None,
            "advice_da": self.advice_da,
            "advice_en": self.advice_en,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        cleared = data.get("cleared_at")
        return cls(
            building=data["building"],
            flat=data["flat"],
            kind=AlertKind(data["kind"]),
            severity=Severity(data["severity"]),
            state=AlertState(data["state"]),
            value=float(data["value"]),
            raised_at=datetime.fromisoformat(data["raised_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            cleared_at=datetime.fromisoformat(cleared) if cleared else None,
        )


@dataclass(frozen=True, slots=True)
class Track:
    """State of one (building, flat, kind) between observations."""

    building: str
    flat: str
    kind: AlertKind
    alert: Alert | None = None
    """The open alert, if any."""
    above_since: datetime | None = None
    alarm_since: datetime | None = None
    below_since: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "building": self.building,
            "flat": self.flat,
            "kind": self.kind.value,
            "alert": self.alert.to_json() if self.alert else None,
            "above_since": iso(self.above_since),
            "alarm_since": iso(self.alarm_since),
            "below_since": iso(self.below_since),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Track:
        def dt(key: str) -> datetime | None:
            v = data.get(key)
            return datetime.fromisoformat(v) if v else None

        return cls(
            building=data["building"],
            flat=data["flat"],
            kind=AlertKind(data["kind"]),
            alert=Alert.from_json(data["alert"]) if data.get("alert") else None,
            above_since=dt("above_since"),
            alarm_since=dt("alarm_since"),
            below_since=dt("below_since"),
        )


def update(
    track: Track, value: float | None, now: datetime, rule: Rule | None = None
) -> tuple[Track, Alert | None]:
    """Feed one observation; returns (new track, the alert if it changed now, else None)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware UTC")
    rule = rule or RULES[track.kind]
    if value is None:
        return track, None
    warn = value >= rule.warn_at
    alarm = rule.alarm_at is not None and value >= rule.alarm_at
    above_since = (track.above_since or now) if warn else None
    alarm_since = (track.alarm_since or now) if alarm else None
    below_since = (track.below_since or now) if value < rule.clear_below else None
    new = replace(track, above_since=above_since, alarm_since=alarm_since, below_since=below_since)
    alert = track.alert
    if alert is None:
        if above_since is not None and now - above_since >= rule.raise_after:
            severe = alarm_since is not None and now - alarm_since >= rule.raise_after
            raised = Alert(
                track.building,
                track.flat,
                track.kind,
                Severity.ALARM if severe else Severity.WARN,
                AlertState.NEW,
                value,
                raised_at=now,
                updated_at=now,
            )
            return replace(new, alert=raised), raised
        return new, None
    if below_since is not None and now - below_since >= rule.clear_after:
        cleared = replace(
            alert, state=AlertState.CLEARED, value=value, updated_at=now, cleared_at=now
        )
        return replace(new, alert=None, above_since=None, alarm_since=None), cleared
    if (
        alert.severity is Severity.WARN
        and alarm_since is not None
        and now - alarm_since >= rule.raise_after
    ):
        escalated = replace(
            alert, severity=Severity.ALARM, state=AlertState.ESCALATED, value=value, updated_at=now
        )
        return replace(new, alert=escalated), escalated
    return replace(new, alert=replace(alert, value=value)), None
