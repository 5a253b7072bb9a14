"""agencies' information returns kept as case records

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('information_return',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('agency', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('involvement', sa.Text(), nullable=False),
    sa.Column('chronology', sa.Text(), nullable=False),
    sa.Column('analysis', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_reference', 'agency', 'version')
    )
    with op.batch_alter_table('information_return', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_information_return_case_reference'), ['case_reference'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('information_return', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_information_return_case_reference'))

    op.drop_table('information_return')
