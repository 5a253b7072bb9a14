"""engine mismatch: a case whose workflow the engine changed outside the service (reset, terminated, cancelled,
another run) is flagged with what was found and since when

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine_mismatch', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('engine_mismatch_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('engine_mismatch_since')
        batch_op.drop_column('engine_mismatch')
