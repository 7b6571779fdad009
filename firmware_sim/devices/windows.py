"""The simulated building's motorised windows and weather mast on one RS-485 bus (a pty), and the
residents who still open and close the windows by hand.

One window controller per flat (Modbus address 1…N) in the living room, and the weather mast at
address 247, all served by one `ModbusResponder`; the controllers' clock is the building's, so
the travel time passes in simulated time. `WindowRig.after_step` is called after each simulation
step: residents whose own airing plan starts or ends press the wall switch (the gateway sees a
manual operation), and each flat's window opening in the physics is the controller's true
position — so air change, heat loss, CO2 and humidity follow the real window.
"""

from __future__ import annotations

from typing import Any, Final

from firmware_sim.devices.closeable import Closeable
from firmware_sim.devices.serial_responders import ModbusResponder
from firmware_sim.devices.window_controller import WeatherMastEmulator, WindowControllerEmulator

WEATHER_ADDRESS: Final = 247
RAIN_MMH: Final = 0.1
"""Rain the mast's sensor reports as rain (a tipping bucket's first tip)."""


class WindowRig(Closeable):
    def __init__(self, building: Any, *, travel_s: float = 60.0) -> None:
        self.building = building
        self.flats = list(building.layout.flat_ids)
        if len(self.flats) > 246:
            raise ValueError("at most 246 window controllers on one simulated bus")
        clock = lambda: building.now.timestamp()  # noqa: E731
        self.controllers = {
            flat: WindowControllerEmulator(i + 1, travel_s=travel_s, clock=clock)
            for i, flat in enumerate(self.flats)
        }
        self.travel_s = travel_s
        self.mast = WeatherMastEmulator(self._weather, address=WEATHER_ADDRESS)
        self._resident_open = dict.fromkeys(self.flats, 0.0)
        self.manual_operations = 0
        self.responder = ModbusResponder([*self.controllers.values(), self.mast])
        for flat in self.flats:
            building.set_window(flat, 0.0)

    def _weather(self) -> tuple[bool, float, float]:
        w = self.building.weather_now()
        return w.rain_mmh >= RAIN_MMH, float(w.wind_ms), float(w.temperature_c)

    @property
    def port(self) -> str:
        return self.responder.port

    def window_configs(self, scenario: Any) -> list[dict[str, Any]]:
        """The gateway's ``[[ventilation.windows]]`` for this building."""
        out = []
        for i, flat in enumerate(scenario.flats):
            living = next((r for r in flat.rooms if str(r.kind) == "living"), flat.rooms[0])
            out.append(
                {
                    "id": f"{flat.id}-w1",
                    "building": scenario.building.id,
                    "flat": flat.id,
                    "room": living.name,
                    "driver": "modbus",
                    "port": self.port,
                    "modbus_address": i + 1,
                    "travel_s": self.travel_s,
                    "ground_floor": flat.floor == 0,
                }
            )
        return out

    def after_step(self) -> None:
        """Residents' hands on the wall switch, then the true positions into the physics."""
        planned = self.building.activity_now().window
        for i, flat in enumerate(self.flats):
            wanted = float(planned[i]) * 100.0
            if wanted != self._resident_open[flat]:
                self._resident_open[flat] = wanted
                self.controllers[flat].press_wall_switch(wanted)
                self.manual_operations += 1
            self.building.set_window(flat, self.controllers[flat].position_pct / 100.0)

    def close(self) -> None:
        self.responder.close()
