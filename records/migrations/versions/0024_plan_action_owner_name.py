"""the person who owns an action of the action plan, named beside the agency

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan_action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_name', sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plan_action', schema=None) as batch_op:
        batch_op.drop_column('owner_name')
