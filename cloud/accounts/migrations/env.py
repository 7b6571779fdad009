"""Alembic environment: always online, on the connection `cloud.accounts.db` hands in."""

from __future__ import annotations

from alembic import context

from cloud.accounts.db import VERSION_TABLE
from cloud.accounts.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
