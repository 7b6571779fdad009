"""Indoor-climate analytics: surface conditions and mould risk (VTT model), comfort classes,
ventilation numbers and alerts. Pure functions over numpy/pandas; I/O lives in cloud/jobs."""
