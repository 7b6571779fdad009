"""Residents' move-out: ``residents.until`` (exclusive end of the tenancy; NULL = still there).

Existing rows keep their data and get NULL: everyone linked today still lives there.

Revision ID: 0002_resident_until
Revises: 0001_accounts
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_resident_until"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drops the move-out dates: under 0001 every linked resident counts as living there again
    (take a backup first, `indeklima backup`, if moves-out have been recorded)."""
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("until")
