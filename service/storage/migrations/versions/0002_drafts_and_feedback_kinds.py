"""reply drafts stored with the decision; feedback kind, source and model version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Up to three ranked drafts the worker wrote, so the API can show them without loading a model.
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drafts", sa.JSON(), nullable=True))
    # Feedback is counted per kind, source and model version; keeping them as columns lets the
    # metrics group without reading every JSON payload.
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=False, server_default="verdict"))
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="agent"))
        batch_op.add_column(sa.Column("model_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("model_version")
        batch_op.drop_column("source")
        batch_op.drop_column("kind")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("drafts")
