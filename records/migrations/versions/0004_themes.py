"""themes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_theme',
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('theme', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.PrimaryKeyConstraint('case_reference', 'theme')
    )
    with op.batch_alter_table('case_theme', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_theme_theme'), ['theme'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_theme', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_theme_theme'))

    op.drop_table('case_theme')
