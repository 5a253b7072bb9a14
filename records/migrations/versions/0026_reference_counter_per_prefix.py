"""each kind of review numbers its cases on its own: the reference counter is kept per prefix and year

Before, one count a year served every prefix (SAR-2026-004 could follow RR-2026-003). Each prefix already in use
takes the year's shared count as its own, so no reference given out before can be given again.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05
"""

import re

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

PREFIX = re.compile(r"([A-Z]{2,6})-(\d{4})-\d+")


def upgrade() -> None:
    bind = op.get_bind()
    shared = dict(bind.execute(sa.text("SELECT year, last FROM reference_counter")).all())
    in_use = {("RR", year) for year in shared}
    for (reference,) in bind.execute(sa.text("SELECT reference FROM case_record")):
        found = PREFIX.fullmatch(reference)
        if found and int(found.group(2)) in shared:
            in_use.add((found.group(1), int(found.group(2))))
    op.create_table('reference_counter_by_prefix',
    sa.Column('prefix', sa.String(length=6), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'year')
    )
    table = sa.table('reference_counter_by_prefix', sa.column('prefix', sa.String), sa.column('year', sa.Integer),
                     sa.column('last', sa.Integer))
    rows = [{"prefix": prefix, "year": year, "last": shared[year]} for prefix, year in sorted(in_use)]
    if rows:
        op.bulk_insert(table, rows)
    op.drop_table('reference_counter')
    op.rename_table('reference_counter_by_prefix', 'reference_counter')


def downgrade() -> None:
    op.create_table('reference_counter_shared',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.execute("INSERT INTO reference_counter_shared (year, last) SELECT year, MAX(last) FROM reference_counter "
               "GROUP BY year")
    op.drop_table('reference_counter')
    op.rename_table('reference_counter_shared', 'reference_counter')
