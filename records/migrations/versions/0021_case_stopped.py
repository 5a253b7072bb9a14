"""a case whose local CSPR the partners stopped says so in the read model (tracker, dashboard, lists); the
notification's due date and DfE reference, and the day a review was completed (published or not), for the figures

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stopped', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('notification_due', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('notification_reference', sa.String(length=60), nullable=True))
    with op.batch_alter_table('case_review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completed_on', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_review_completed_on'), ['completed_on'], unique=False)
    # Reviews published before the column existed were completed on their publication day.
    op.execute("UPDATE case_review SET completed_on = published_on WHERE published_on IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('case_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_review_completed_on'))
        batch_op.drop_column('completed_on')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('notification_reference')
        batch_op.drop_column('notification_due')
        batch_op.drop_column('stopped')
