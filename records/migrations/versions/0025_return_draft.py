"""an agency's information return saved as a draft, one per case and agency, until it is sent

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('return_draft',
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('agency', sa.String(length=80), nullable=False),
    sa.Column('involvement', sa.Text(), nullable=False),
    sa.Column('chronology', sa.Text(), nullable=False),
    sa.Column('analysis', sa.Text(), nullable=False),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('saved_by', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.PrimaryKeyConstraint('case_reference', 'agency')
    )


def downgrade() -> None:
    op.drop_table('return_draft')
