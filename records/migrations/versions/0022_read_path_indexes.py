"""indexes for what /readyz and /metrics count (orphaned, failing and mismatched cases) and for a case's
timeline of changes, so neither grows with every case or every read ever recorded

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# Kept as written here (not imported from the models): a migration is what the schema was at its revision.
CHANGE_ROWS = sa.text("substr(action, 1, 5) NOT IN ('read_', 'list_') AND action <> 'denied'")
CASE_FLAGS = ('workflow_missing_since', 'effect_failing', 'engine_mismatch')


def upgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        for column in CASE_FLAGS:
            batch_op.create_index(batch_op.f(f'ix_case_record_{column}'), [column], unique=False)
    op.create_index('ix_audit_event_case_changes', 'audit_event', ['case_reference', 'id'], unique=False,
                    sqlite_where=CHANGE_ROWS, postgresql_where=CHANGE_ROWS)


def downgrade() -> None:
    op.drop_index('ix_audit_event_case_changes', table_name='audit_event')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        for column in reversed(CASE_FLAGS):
            batch_op.drop_index(batch_op.f(f'ix_case_record_{column}'))
