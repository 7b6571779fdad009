"""Sensor drivers and decoders: bytes in, `SensorValues` out."""
