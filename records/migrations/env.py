"""Alembic environment: migrations run on the engine the caller passes (see records.db.upgrade)."""

from alembic import context
from sqlmodel import SQLModel

import records.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        raise SystemExit("Migrations run on the service's own engine: use `rapid-review migrate`.")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
