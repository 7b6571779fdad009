"""Texts the Python side of the pages chooses (advice, labels), marked for extraction with
``N_`` and translated when the page is rendered (``_()`` in the template). English is the
message id; the Danish catalog holds the Danish text that residents read first."""

from __future__ import annotations

from typing import Final


def N_(message: str) -> str:
    """Mark a text for extraction without translating it here."""
    return message


ADVICE: Final = {
    "good": N_("The indoor climate is good. Carry on as you are."),
    "co2_high": N_(
        "The air is stale: air out for 5-10 minutes now, with a cross-draught if you can."
    ),
    "co2_very_high": N_("The air is very stale: open the windows wide for 10 minutes now."),
    "humid": N_("It is humid: air out after bathing and cooking, and do not dry laundry indoors."),
    "dry": N_(
        "The air is dry: air out briefly rather than for a long time, and keep an even temperature."
    ),
    "cold": N_(
        "It is cold: turn up the radiator; keep at least 18 °C so that mould does not grow."
    ),
    "warm": N_("It is warm: turn the radiator down; 20-21 °C is enough."),
    "no_data": N_("No reading in the last hour: check the sensor's battery."),
}

MOULD_ADVICE: Final = {
    "none": N_("No mould risk now."),
    "low": N_("Low mould risk. Keep airing out 2-3 times a day."),
    "warn": N_(
        "Mould may start at the cold walls. Air out for 10 minutes 2-3 times a day and keep "
        "the bedroom above 18 °C."
    ),
    "alarm": N_(
        "Mould may be visible. Contact the estate office, air out now and keep the bedroom "
        "above 18 °C."
    ),
}

ROLE_LABELS: Final = {
    "resident": N_("Resident"),
    "technician": N_("Technician"),
    "finance": N_("Finance"),
    "admin": N_("Administrator"),
}

QUANTITY_LABELS: Final = {
    "temperature_c": N_("Temperature"),
    "humidity_pct": N_("Humidity"),
    "co2_ppm": N_("CO2"),
}

ALERT_KINDS: Final = {
    "mould": N_("Mould risk"),
    "surface-rh": N_("Damp at cold walls"),
    "co2": N_("Stale air (CO2)"),
    "sensor-silent": N_("Sensor silent"),
    "actuator-fault": N_("Window motor fault"),
}

SEVERITIES: Final = {"warn": N_("Warning"), "alarm": N_("Alarm")}

RANGES: Final = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month"), "year": N_("Year")}

CAUSES: Final = {
    "envelope": N_("The building envelope (a cold wall or corner)"),
    "ventilation": N_("Too little ventilation"),
    "habits": N_("Habits (airing, drying laundry, cooking)"),
}
