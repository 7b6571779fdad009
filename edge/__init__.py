"""indeklima gateway: sensor drivers and decoders, outbox, MQTT uplink, ventilation control.

Light on purpose: runs on a Raspberry Pi without pandas or FastAPI. Never imports ``cloud``.
"""
