"""indeklima cloud: ingest, stores, analytics, alerts, registry, API and settlement exports."""
