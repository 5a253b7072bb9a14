"""sign-in failures by step: a wrong password and a wrong one-time code are counted apart (a column, not a "#mfa"
suffix on the username that a username could also carry)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step', sa.String(length=20), nullable=False, server_default='password'))
    # Rows counted the old way for a second factor ("username#mfa") become that step; they age out within the window.
    op.execute("UPDATE sign_in_failure SET step = 'second_factor', username = substr(username, 1, length(username) - 4) "
               "WHERE username LIKE '%#mfa'")


def downgrade() -> None:
    with op.batch_alter_table('sign_in_failure', schema=None) as batch_op:
        batch_op.drop_column('step')
