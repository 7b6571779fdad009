"""Serial sensors: Sensirion SCD30 and Senseair S8 over Modbus RTU, Winsen MH-Z19B over UART."""

from edge.sensors.serial.poller import DeviceStats, SerialPoller, group_by_port

__all__ = ["DeviceStats", "SerialPoller", "group_by_port"]
