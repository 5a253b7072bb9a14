"""a case's panel date in the read model, for the panel calendar

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('panel_date', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_record_panel_date'), ['panel_date'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_record_panel_date'))
        batch_op.drop_column('panel_date')
