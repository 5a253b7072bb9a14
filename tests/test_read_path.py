"""Reads stay out of writers' way: a read takes no write lock, and the audit rows of reads arriving together are
written together (one lock and one update of the chain's head), still a chain that verifies."""

import threading

from sqlalchemy import event, update
from sqlmodel import select

from records.audit import AuditWriter
from records.db import begin_write, one_writer_at_a_time, read_session, session_scope, writers_lock_path
from records.models import AuditEvent, AuditHead, User
from service.platform.audit_trail import AuditTrail


def test_a_writer_commits_while_a_read_is_open_and_the_read_can_then_write(engine, demo_passwords):
    with read_session(engine) as reading:
        assert reading.exec(select(User)).all()  # a read transaction is open
        with session_scope(engine) as writing:  # on SQLite this waited for the read before (BEGIN IMMEDIATE)
            writing.exec(update(User).where(User.username == "panel.chair").values(full_name="Changed meanwhile"))
        begin_write(reading)  # the read's snapshot is older than that commit: the write must begin afresh
        reading.exec(update(User).where(User.username == "panel.chair").values(full_name="Changed by the reader"))
        reading.commit()
    with read_session(engine) as session:
        assert session.exec(select(User.full_name).where(User.username == "panel.chair")).one() == \
            "Changed by the reader"


def test_reads_arriving_together_share_one_head_update_and_the_chain_verifies(engine, settings, demo_passwords):
    trail = AuditTrail.from_settings(engine, settings)
    head_updates = []

    def count_head_updates(_conn, _cursor, statement, *_):
        if statement.startswith("UPDATE audit_head"):
            head_updates.append(statement)

    event.listen(engine, "before_cursor_execute", count_head_updates)
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.username == "panel.chair")).one()

    def read(n: int) -> None:
        with read_session(engine) as session:
            AuditWriter(session, trail.key, f"request-{n}", trail.reads).write(user, "read_case", "RR-1", {"n": n})

    with session_scope(engine) as holder:  # another writer holds the head: the first read's batch waits for it
        holder.exec(update(AuditHead).where(AuditHead.id == 1).values(last_id=AuditHead.last_id))
        first = threading.Thread(target=read, args=(0,))
        first.start()
        with trail.reads._changed:
            trail.reads._changed.wait_for(lambda: trail.reads._writing)
        rest = [threading.Thread(target=read, args=(n,)) for n in range(1, 10)]
        for thread in rest:
            thread.start()
        with trail.reads._changed:  # the nine queue behind the batch being written
            trail.reads._changed.wait_for(lambda: len(trail.reads._pending) == 9)
    for thread in [first, *rest]:
        thread.join()
    event.remove(engine, "before_cursor_execute", count_head_updates)

    # The holder's one, then two batches (the first read alone, the nine together), each locking the head with
    # an UPDATE and moving it to its new end with another.
    assert len(head_updates) == 1 + 2 * 2
    with read_session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "read_case")).all()
    assert sorted(row.request_id for row in rows) == sorted(f"request-{n}" for n in range(10))
    check = trail.verify(full=True)
    assert check.intact, check.problems


def test_on_sqlite_a_read_batch_waits_for_the_other_api_process_batch_then_lands(engine, settings, demo_passwords):
    """Two API processes' read batches take turns through a lock beside the database (the kernel wakes the next
    at once), not through SQLite's own retries after sleeps; on PostgreSQL the head's row lock does that."""
    path = writers_lock_path(engine)
    if engine.url.get_backend_name() != "sqlite":
        assert path is None
        return
    ours = AuditTrail.from_settings(engine, settings)  # this process's batch; the test holds the other's turn
    with read_session(engine) as session:
        user = session.exec(select(User).where(User.username == "panel.chair")).one()

    def read() -> None:
        with read_session(engine) as session:
            AuditWriter(session, ours.key, "request-waiting", ours.reads).write(user, "read_case", "RR-1", {})

    def landed() -> bool:
        with read_session(engine) as session:
            return session.exec(select(AuditEvent).where(AuditEvent.request_id == "request-waiting")).first() \
                is not None

    with one_writer_at_a_time(path):  # the other process is writing its batch
        waiting = threading.Thread(target=read)
        waiting.start()
        waiting.join(timeout=1)
        assert waiting.is_alive() and not landed()
    waiting.join()
    assert landed()
    check = ours.verify(full=True)
    assert check.intact, check.problems
