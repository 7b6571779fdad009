"""Alembic migrations of the accounts database, run by `cloud.accounts.db.upgrade`."""
