"""two cases of different review types linked (one incident, two reviews), with the partners' agreement to share
agency returns

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('linked_reference', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('linked_by', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sharing_seats', sa.String(length=40), nullable=True),
    sa.Column('sharing_decision', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.ForeignKeyConstraint(['linked_reference'], ['case_record.reference'], ),
    sa.ForeignKeyConstraint(['linked_by'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_reference', 'linked_reference')
    )
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_link_case_reference'), ['case_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_linked_reference'), ['linked_reference'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_link_linked_reference'))
        batch_op.drop_index(batch_op.f('ix_case_link_case_reference'))
    op.drop_table('case_link')
