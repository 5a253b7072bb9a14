"""information requests titled by agency ("Request for agency information: Police"), so a case's register tells
its requests apart

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from engine.vocabulary import AGENCIES

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BASE = "Request for agency information"
document = sa.table("document", sa.column("kind", sa.String), sa.column("title", sa.String))


def upgrade() -> None:
    for code, name in AGENCIES.items():
        op.execute(document.update().where(document.c.kind == f"information_request_{code}")
                   .values(title=f"{BASE}: {name}"))


def downgrade() -> None:
    op.execute(document.update().where(document.c.kind.like("information\\_request\\_%", escape="\\"))
               .values(title=BASE))
