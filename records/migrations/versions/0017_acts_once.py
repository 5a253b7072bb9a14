"""acts once across replicas: a case reference bound to one idempotency key; outbox leases, attempts and message ids

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# A message an older sender left 'sending' was released 10 minutes after its claim: it keeps that as its lease.
OLD_RELEASE_AFTER = timedelta(minutes=10)


def upgrade() -> None:
    with op.batch_alter_table('idempotent_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotent_request_case_reference'), ['case_reference'], unique=True)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('message_id', sa.String(length=250), nullable=True))

    outbox = sa.table('outbox_message', sa.column('id', sa.Integer()), sa.column('status', sa.String()),
                      sa.column('next_attempt_at', sa.DateTime(timezone=True)),
                      sa.column('lease_until', sa.DateTime(timezone=True)))
    connection = op.get_bind()
    claimed = connection.execute(sa.select(outbox.c.id, outbox.c.next_attempt_at)
                                 .where(outbox.c.status == 'sending')).all()
    for message_id, claimed_at in claimed:
        connection.execute(outbox.update().where(outbox.c.id == message_id)
                           .values(lease_until=claimed_at + OLD_RELEASE_AFTER))


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('message_id')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')

    with op.batch_alter_table('idempotent_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotent_request_case_reference'))
