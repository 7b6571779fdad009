"""Device emulators that speak the real wire formats (BLE advertisement bytes, serial frames)."""
