"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and roll back."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import records.models  # noqa: F401
from records.db import downgrade, make_engine, upgrade


def test_migrations_match_models_and_roll_back(database_url):
    engine = make_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables

    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_each_prefix_keeps_numbering_from_the_shared_count(database_url):
    """A database from before counters per prefix: every prefix in use takes the year's shared count, so no
    reference is given twice; a prefix not yet used that year starts at 1; the next SAR follows its own."""
    from sqlalchemy import text
    from sqlmodel import Session

    from service.cases.references import next_reference

    engine = make_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    upgrade(engine, "0025")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO reference_counter (year, last) VALUES (2025, 9), (2026, 4)"))
        for reference, year in (("RR-2026-003", 2026), ("SAR-2026-004", 2026), ("SAR-2025-009", 2025)):
            conn.execute(text("INSERT INTO case_record (reference, pseudonym, stage, opened_on, year, awareness_date,"
                              " late, escalated, decision_sheet_version, stopped, updated_at) VALUES (:r, 'Child A',"
                              " 'closed', :d, :y, :d, false, false, 0, false, :t)"),
                         {"r": reference, "y": year, "d": f"{year}-03-01", "t": f"{year}-03-01 12:00:00+00:00"})
    upgrade(engine)
    with Session(engine) as session:
        taken = [next_reference(session, 2026, "SAR"), next_reference(session, 2026, "RR"),
                 next_reference(session, 2026, "DARDR"), next_reference(session, 2025, "RR"),
                 next_reference(session, 2027, "SAR")]
        session.commit()
    assert taken == ["SAR-2026-005", "RR-2026-005", "DARDR-2026-001", "RR-2025-010", "SAR-2027-001"]
    downgrade(engine, "0025")
    with engine.connect() as conn:
        kept = dict(conn.execute(text("SELECT year, last FROM reference_counter")).all())
    assert kept == {2025: 10, 2026: 5, 2027: 1}, "rolled back, the shared count is the highest of the prefixes'"
    engine.dispose()
