"""keyed audit chain: each row's hash kind, the head's MAC, the verification checkpoint; on PostgreSQL
audit rows cannot be updated or deleted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Rows already written keep their plain SHA-256 hashes (hash_kind "sha256"); the service writes every new
row keyed ("hmac-sha256"), and verification refuses a plain row after the first keyed one.

On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE of audit_event, and those privileges are
revoked from PUBLIC (and from the role running this migration when it does not own the table). The
table's owner or a superuser can still drop or disable the trigger: that is why the chain is keyed with a
key outside the database and the nightly job anchors its head in signed files outside the database.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

REVOKE_FROM_APP_ROLE = """
DO $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT tableowner FROM pg_tables
                                      WHERE tablename = 'audit_event' AND schemaname = current_schema()),
                       'MEMBER') THEN
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM %I', current_user);
    END IF;
END
$$
"""


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hash_kind', sa.String(length=16), nullable=True))
    op.execute("UPDATE audit_event SET hash_kind = 'sha256'")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('hash_kind', existing_type=sa.String(length=16), nullable=False)

    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))

    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY)
        op.execute("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                   "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()")
        op.execute("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC")
        op.execute(REVOKE_FROM_APP_ROLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")

    op.drop_table('audit_checkpoint')
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('mac')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('hash_kind')
