"""The one place where our `RawAdvert` becomes the objects the Bluetooth-Devices parsers take.

`ruuvitag-ble`, `bthome-ble` and `xiaomi-ble` take a habluetooth ``BluetoothServiceInfoBleak``;
`aranet4` takes bleak's ``BLEDevice`` and ``AdvertisementData``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge.sensors.ble.model import RawAdvert

if TYPE_CHECKING:  # habluetooth (~10 MB resident with its scanner stack) only where needed
    from habluetooth import BluetoothServiceInfoBleak

_NO_RSSI = -127
SOURCE = "indeklima"


def to_bleak(advert: RawAdvert) -> tuple[BLEDevice, AdvertisementData]:
    """Bleak's view of the advertisement."""
    adv = AdvertisementData(
        local_name=advert.local_name,
        manufacturer_data=dict(advert.manufacturer_data),
        service_data=dict(advert.service_data),
        service_uuids=list(advert.service_data),
        tx_power=None,
        rssi=advert.rssi if advert.rssi is not None else _NO_RSSI,
        platform_data=(),
    )
    return BLEDevice(advert.address, advert.local_name, None), adv


def to_service_info(advert: RawAdvert) -> BluetoothServiceInfoBleak:
    """Home Assistant's view of the advertisement (loads habluetooth on first use)."""
    from habluetooth import BluetoothServiceInfoBleak

    device, adv = to_bleak(advert)
    return BluetoothServiceInfoBleak.from_device_and_advertisement_data(
        device, adv, SOURCE, time.monotonic(), False
    )
