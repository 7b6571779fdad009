"""Ventilation window control on the gateway (DOMAIN.md "Automatic window safety").

`control` is the pure decision function (readings, weather, set points, rules, clock, state →
decision naming the rule or interlock that decided it); `settings` holds the window config and
the set points the cloud may tune; `actuators` talks to window controllers (Modbus RTU, relays);
`service` is the thin I/O loop around them. Nothing here needs the cloud to keep working.
"""
