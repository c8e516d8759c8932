"""data lifecycle: helpdesk state and purge marks on tickets, deliveries linked to tickets, erasures

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing tickets start unpurged and in no known helpdesk state: the first retention run
    # looks at all of them, in batches.
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("helpdesk_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("helpdesk_state_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tickets_retention", ["tenant", "purged_at", "updated_at"], unique=False)
        batch_op.create_index(
            "ix_tickets_helpdesk_state",
            ["tenant", "helpdesk_state", "purged_at", "helpdesk_state_at"],
            unique=False,
        )
    # Rows from before this revision have no ticket id; they age out with the delivery window.
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_deliveries_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("selector", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("rows_removed", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_tenant"), ["tenant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasures_tenant"))
    op.drop_table("erasures")
    with op.batch_alter_table("inbound_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_deliveries_ticket_id"))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_helpdesk_state")
        batch_op.drop_index("ix_tickets_retention")
        batch_op.drop_column("purged_at")
        batch_op.drop_column("helpdesk_state_at")
        batch_op.drop_column("helpdesk_state")
