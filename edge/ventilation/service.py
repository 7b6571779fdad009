"""The thin I/O around `control.step`: one thread steps every window every `step_s`.

Per step: read the weather mast, read each window controller (a changed wall-switch counter is a
manual operation), feed the latest indoor readings (from the gateway's samples) and any
technician command to `control.step`, send the decided opening to the controller when it
changes, and record what happened as window state messages (`edge.wire.WindowState`): every
change of decision (rule, tier, target), every command's outcome, the reported position (on change
and once after each move's travel time), and the verdict on a set point configuration.

Nothing here waits for the cloud: commands and set points arrive when they arrive, and each state
message goes to the `StateSink` — in the gateway, its outbox (`edge.outbox.Outbox.add_state`),
which commits it to disk before returning and keeps it until ingest acknowledges that it is stored
(bounded: oldest dropped and counted when full). A message the sink could not take is logged and
counted (`unrecorded`, in the status's ``window_states_dropped``), never silently lost.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from edge.lifecycle import Service
from edge.sensors.serial.errors import SerialFault
from edge.ventilation.actuators import Actuator, Report
from edge.ventilation.control import (
    Command,
    Decision,
    Inputs,
    Measured,
    Outcome,
    Tier,
    WindowState,
    step,
)
from edge.ventilation.settings import Setpoints, VentilationConfig, WindowConfig, parse_setpoints
from edge.ventilation.weather import Weather
from edge.wire import (
    MAX_COMMAND_LIFETIME_MS,
    Reading,
    SetpointsConfig,
    WireError,
    decode_setpoints,
    decode_window_command,
)
from edge.wire import (
    WindowState as StateMessage,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
WeatherSource = Callable[[], Weather]
StateSink = Callable[[str, StateMessage], object]
"""(window id, message) → commits the message durably for delivery (its return value is not
used); raises if it cannot."""
HUMIDITY_WINDOW: Final = timedelta(minutes=30)
OCCUPANCY_WINDOW: Final = timedelta(hours=1)
OCCUPIED_CO2_PPM: Final = 650.0
"""A CO2 level above this within the last hour means someone is home (outdoor ≈ 420 ppm)."""
MAX_COMMANDS_PER_WINDOW: Final = 16
HISTORY_MAX: Final = 2_000
POSITION_CHANGE_PCT: Final = 1.0


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass
class _Window:
    config: WindowConfig
    actuator: Actuator
    setpoints: Setpoints
    state: WindowState = field(default_factory=WindowState)
    commanded_pct: float | None = None
    last_decision: tuple[str, str, float] | None = None
    last_reported: float | None = None
    manual_count: int | None = None
    check_at: datetime | None = None
    blocked_command: str | None = None
    """A technician's command accepted but blocked by a higher tier: "executed" follows."""
    co2: deque[tuple[datetime, float]] = field(default_factory=lambda: deque(maxlen=HISTORY_MAX))
    rh: deque[tuple[datetime, float]] = field(default_factory=lambda: deque(maxlen=HISTORY_MAX))
    commands: deque[Command] = field(default_factory=lambda: deque(maxlen=MAX_COMMANDS_PER_WINDOW))


class VentilationService(Service):
    def __init__(
        self,
        config: VentilationConfig,
        gateway_id: str,
        actuators: dict[str, Actuator],
        weather: WeatherSource,
        record: StateSink,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        setpoints_file: Path | None = None,
    ) -> None:
        """``setpoints_file``: where the last applied set point configuration is kept, so a
        gateway that restarts while the cloud is unreachable keeps the technicians' values."""
        missing = [w.id for w in config.windows if w.id not in actuators]
        if missing:
            raise ValueError(f"no actuator for windows {missing}")
        self.config = config
        self.gateway_id = gateway_id
        self.clock = clock
        self._weather_source = weather
        self._record = record
        self.windows = {w.id: _Window(w, actuators[w.id], config.setpoints) for w in config.windows}
        self.unrecorded = 0
        """State messages the sink refused (e.g. the disk failed): logged and counted."""
        self.weather_failures = 0
        self.actuator_failures = 0
        self.config_id: str | None = None
        self._weather: Weather | None = None
        self._weather_at: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._setpoints_file = setpoints_file
        if setpoints_file is not None and setpoints_file.exists():
            try:
                self._apply(decode_setpoints(setpoints_file.read_bytes()))
                log.info("set points %s restored from %s", self.config_id, setpoints_file)
            except (OSError, WireError, ValueError) as exc:
                log.warning(
                    "gemte sætpunkter i %s ignoreret / saved set points in %s ignored: %s",
                    setpoints_file,
                    setpoints_file,
                    exc,
                )

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ventilation")
            self._thread.start()

    def close(self) -> None:
        """Stop stepping (windows stay where they are), close the actuators. Safe twice."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10)
            self._thread = None
        for window in self.windows.values():
            window.actuator.close()

    def _run(self) -> None:
        while not self._stop.wait(self.config.step_s):
            try:
                self.step_once()
            except Exception:
                log.exception("ventilation step failed; next step in %.0f s", self.config.step_s)

    # -- inputs (any thread) -------------------------------------------------------------------
    def on_reading(self, reading: Reading) -> None:
        """The gateway hands every stored reading here; windows of that room keep CO2/RH."""
        co2 = reading.values.get("co2_ppm")
        rh = reading.values.get("humidity_pct")
        if co2 is None and rh is None:
            return
        with self._lock:
            for window in self.windows.values():
                c = window.config
                if (c.building, c.flat, c.room) != (reading.building, reading.flat, reading.room):
                    continue
                if c.sensors and reading.sensor not in c.sensors:
                    continue
                if co2 is not None:
                    window.co2.append((reading.time, co2))
                if rh is not None:
                    window.rh.append((reading.time, rh))

    def on_command(self, window_id: str, payload: bytes) -> None:
        """A payload from ``…/windows/<id>/cmd``. Expired or invalid: answered, never queued."""
        now = self.clock()
        window = self.windows.get(window_id)
        try:
            cmd = decode_window_command(payload)
        except WireError as exc:
            if window is not None:
                self._queue_outcome(window, now, None, "refused", exc.reason)
            return
        if window is None or cmd.window != window_id:
            log.warning("command %s for unknown window %s ignored", cmd.id, window_id)
            return
        if cmd.expires_ms - cmd.issued_ms > MAX_COMMAND_LIFETIME_MS:
            reason = "kommandoen må højst gælde et døgn / a command may live one day at most"
            self._queue_outcome(window, now, cmd.id, "refused", reason)
            return
        expires = datetime.fromtimestamp(cmd.expires_ms / 1000, UTC)
        if expires <= now:
            self._queue_outcome(
                window, now, cmd.id, Outcome.EXPIRED, "udløbet før den nåede frem / expired"
            )
            return
        old: Command | None = None
        with self._lock:
            if len(window.commands) == window.commands.maxlen:
                old = window.commands.popleft()
            window.commands.append(Command(cmd.id, cmd.action, cmd.target_pct, expires, cmd.hold_s))
        if old is not None:  # answered outside the lock: the sink writes to disk
            self._queue_outcome(window, now, old.id, "refused", "kø fuld / queue full")

    def on_config(self, payload: bytes) -> None:
        """The retained ``…/config``: applied whole, or refused whole with the reasons."""
        now = self.clock()
        try:
            config = decode_setpoints(payload)
        except WireError as exc:
            self._config_verdict(now, None, list(self.windows.values()), exc.reason)
            return
        if config.id == self.config_id:
            return  # the retained copy of what is already applied (reconnect, restart)
        try:
            self._apply(config)
        except ValueError as exc:
            self._config_verdict(now, config.id, list(self.windows.values()), str(exc))
            return
        if self._setpoints_file is not None:
            try:
                tmp = self._setpoints_file.with_suffix(".tmp")
                tmp.write_bytes(payload)
                os.replace(tmp, self._setpoints_file)
            except OSError as exc:
                log.warning("could not keep the set points in %s: %s", self._setpoints_file, exc)
        self._config_verdict(now, config.id, list(self.windows.values()), None)

    def _apply(self, config: SetpointsConfig) -> None:
        effective = self._effective(config)
        with self._lock:
            for window in self.windows.values():
                window.setpoints = effective[window.config.id]
            self.config_id = config.id

    def _effective(self, config: SetpointsConfig) -> dict[str, Setpoints]:
        """Set points per window: gateway defaults ← building ← flat ← room scopes."""
        buildings = {w.config.building for w in self.windows.values()}
        errors: list[str] = []
        for scope in config.scopes:
            where = "/".join(p for p in (scope.building, scope.flat, scope.room) if p)
            if scope.building not in buildings:
                errors.append(f"{where}: bygningen styres ikke af denne gateway / not served here")
                continue
            if scope.room is not None and scope.flat is None:
                errors.append(f"{where}: et rum kræver en lejlighed / a room needs its flat")
                continue
            try:
                parse_setpoints(self.config.setpoints, scope.values)
            except ValueError as exc:
                errors.append(f"{where}: {exc}")
        if errors:
            raise ValueError("; ".join(errors))
        result: dict[str, Setpoints] = {}
        for window in self.windows.values():
            c = window.config
            values: dict[str, Any] = {}
            for level in (1, 2, 3):
                for scope in config.scopes:
                    key = (scope.building, scope.flat, scope.room)
                    wanted = (
                        c.building,
                        c.flat if level > 1 else None,
                        c.room if level > 2 else None,
                    )
                    if key == wanted:
                        values.update(scope.values)
            try:
                result[c.id] = parse_setpoints(self.config.setpoints, values)
            except ValueError as exc:
                raise ValueError(f"vindue / window {c.id}: {exc}") from None
        return result

    # -- the step (control thread; tests call it directly) ------------------------------------
    def step_once(self) -> None:
        now = self.clock()
        try:
            self._weather, self._weather_at = self._weather_source(), now
        except SerialFault as exc:
            self.weather_failures += 1
            log.warning("vejrmasten svarer ikke / weather mast not answering: %s", exc)
        for window in self.windows.values():
            try:
                self._step_window(window, now)
            except Exception:
                log.exception("window %s: step failed", window.config.id)

    def _measured(self, value: float | bool | None) -> Measured | None:
        if value is None or self._weather_at is None:
            return None
        return Measured(float(value), self._weather_at)

    def _step_window(self, window: _Window, now: datetime) -> None:
        report: Report | None = None
        try:
            report = window.actuator.report()
        except SerialFault as exc:
            self.actuator_failures += 1
            log.warning("window %s: controller not answering: %s", window.config.id, exc)
        manual: float | None = None
        if report is not None:
            if window.manual_count is not None and report.manual_count != window.manual_count:
                manual = report.target_pct
            window.manual_count = report.manual_count
        with self._lock:
            cmd = window.commands.popleft() if window.commands else None
            inputs = self._indoor(window, now)
        weather = self._weather
        inputs = Inputs(
            rain=self._measured(weather.rain if weather else None),
            wind_ms=self._measured(weather.wind_ms if weather else None),
            outdoor_c=self._measured(weather.outdoor_c if weather else None),
            co2_ppm=inputs.co2_ppm,
            humidity_pct=inputs.humidity_pct,
            humidity_low_pct=inputs.humidity_low_pct,
            occupied=inputs.occupied,
            manual_pct=manual,
            command=cmd,
        )
        decision, window.state = step(
            now,
            inputs,
            window.setpoints,
            self.config.rules,
            window.state,
            ground_floor=window.config.ground_floor,
        )
        if manual is not None:
            window.commanded_pct = manual  # the controller already goes there
        moved = decision.target_pct != window.commanded_pct
        if moved:
            try:
                window.actuator.command(decision.target_pct)
                window.commanded_pct = decision.target_pct
                window.check_at = now + timedelta(seconds=window.config.travel_s + 2)
            except SerialFault as exc:
                self.actuator_failures += 1
                log.warning("window %s: command not delivered: %s", window.config.id, exc)
                moved = False
        key = (decision.rule.value, decision.tier.value, decision.target_pct)
        if moved or key != window.last_decision:
            window.last_decision = key
            self._queue_decision(window, decision, moved)
        if decision.command_id is not None and decision.outcome is not None:
            why = None
            if decision.outcome is Outcome.BLOCKED:
                why = f"{decision.rule.value}: {decision.text_da} / {decision.text_en}"
                window.blocked_command = decision.command_id
            self._queue_outcome(window, now, decision.command_id, decision.outcome, why)
        override = window.state.override
        if window.blocked_command is not None:
            if override is None or override.command_id != window.blocked_command:
                window.blocked_command = None  # ended or replaced before it could act
            elif decision.tier is Tier.TECHNICIAN:  # the block has lifted: now it acts
                self._queue_outcome(window, now, override.command_id, Outcome.EXECUTED, None)
                window.blocked_command = None
        if report is not None:
            due = window.check_at is not None and now >= window.check_at
            changed = (
                window.last_reported is None
                or abs(report.actual_pct - window.last_reported) >= POSITION_CHANGE_PCT
            )
            if due or changed or manual is not None:
                if due:
                    window.check_at = None
                window.last_reported = report.actual_pct
                self._queue(window, self._position(window, now, report))

    def _indoor(self, window: _Window, now: datetime) -> Inputs:
        """Latest CO2/RH, the lowest RH of the last half hour, occupancy (lock held)."""
        co2 = Measured(window.co2[-1][1], window.co2[-1][0]) if window.co2 else None
        rh = Measured(window.rh[-1][1], window.rh[-1][0]) if window.rh else None
        while window.rh and window.rh[0][0] < now - HUMIDITY_WINDOW:
            window.rh.popleft()
        while window.co2 and window.co2[0][0] < now - OCCUPANCY_WINDOW:
            window.co2.popleft()
        low = min((v for _, v in window.rh), default=None)
        occupied = (
            max((v for _, v in window.co2), default=0.0) >= OCCUPIED_CO2_PPM if window.co2 else None
        )
        return Inputs(co2_ppm=co2, humidity_pct=rh, humidity_low_pct=low, occupied=occupied)

    # -- outgoing ------------------------------------------------------------------------------
    def _base(self, window: _Window, now: datetime, kind: str, **fields: Any) -> StateMessage:
        c = window.config
        return StateMessage(
            v=1,
            gateway=self.gateway_id,
            window=c.id,
            building=c.building,
            flat=c.flat,
            room=c.room,
            time_ms=_ms(now),
            kind=kind,  # type: ignore[arg-type]
            **fields,
        )

    def _queue_decision(self, window: _Window, decision: Decision, moved: bool) -> None:
        extra: dict[str, Any] = {}
        if moved:
            extra = {"commanded_pct": decision.target_pct, "travel_s": window.config.travel_s}
        self._queue(
            window,
            self._base(
                window,
                decision.time,
                "decision",
                rule=decision.rule.value,
                tier=decision.tier.value,
                target_pct=decision.target_pct,
                text_da=decision.text_da,
                text_en=decision.text_en,
                **extra,
            ),
        )

    def _position(self, window: _Window, now: datetime, report: Report) -> StateMessage:
        fault = report.fault
        if (
            fault is None
            and window.commanded_pct is not None
            and window.check_at is None
            and abs(report.actual_pct - window.commanded_pct) > 10
        ):
            fault = (
                f"kommanderet {window.commanded_pct:g} %, melder {report.actual_pct:g} % / "
                f"commanded {window.commanded_pct:g} %, reports {report.actual_pct:g} %"
            )
        # read before this step's decision: at a command's own time it is the position before
        # the move, which is how cloud/jobs/actuator_job.py reads it
        return self._base(window, now, "position", reported_pct=report.actual_pct, fault=fault)

    def _queue_outcome(
        self, window: _Window, now: datetime, ref: str | None, outcome: str, reason: str | None
    ) -> None:
        self._queue(
            window,
            self._base(window, now, "command", ref=ref, outcome=str(outcome), reason=reason),
        )

    def _config_verdict(
        self, now: datetime, config_id: str | None, windows: list[_Window], reason: str | None
    ) -> None:
        outcome = "applied" if reason is None else "refused"
        if reason is not None:
            log.warning("set points %s refused: %s", config_id, reason)
        for window in windows:
            self._queue(
                window,
                self._base(window, now, "config", ref=config_id, outcome=outcome, reason=reason),
            )

    def _queue(self, window: _Window, message: StateMessage) -> None:
        """Hand `message` to the sink (durable when it returns); count and log a failure."""
        try:
            self._record(window.config.id, message)
        except Exception:
            self.unrecorded += 1
            log.exception(
                "vindue %s: tilstandsbesked (%s) kunne ikke gemmes / window %s: state message "
                "(%s) could not be kept — check the gateway's disk",
                window.config.id,
                message.kind,
                window.config.id,
                message.kind,
            )
