"""inbound deliveries keep the hash of their signed content

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A delivery id reused with different content is refused (409) instead of deduped or stored
    # again; rows from before this revision have no hash and keep deduping on the id alone.
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.drop_column("content_hash")
