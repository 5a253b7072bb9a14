"""when the engine's running case workflows were last compared with the cases on record

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('engine_watch_mark',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('looked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('engine_watch_mark')
