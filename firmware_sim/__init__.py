"""A simulated building for indeklima: weather, residents, flat physics and ground truth.

Device emulators that speak the real wire formats live in ``firmware_sim.devices``.
"""

from firmware_sim.building import Building, FlatTotals, FlatTruth, SimRun, run
from firmware_sim.scenario import Scenario, default_scenario, load_scenario
from firmware_sim.weather import Weather, WeatherSample

__all__ = [
    "Building",
    "FlatTotals",
    "FlatTruth",
    "Scenario",
    "SimRun",
    "Weather",
    "WeatherSample",
    "default_scenario",
    "load_scenario",
    "run",
]
