"""The audit chain against an insider who can write to the database: keyed hashes they cannot recompute,
rows from before keying that still verify but cannot be used to downgrade keyed ones, a PostgreSQL trigger
that refuses edits, anchors outside the database that catch a cut, and incremental verification."""

import hashlib
import hmac
import inspect
import json
import os
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from records.audit import GENESIS_HASH
from records.db import make_engine, session_scope, upgrade
from records.models import AuditEvent, AuditHead
from service.platform import jobs
from service.platform.audit_trail import AuditTrail
from tests.insider import as_table_owner

DAY = date(2026, 11, 24)
WRONG_KEY = b"the-insider-guessed-this-key-000000000000"


@pytest.fixture
def trail(engine, settings) -> AuditTrail:
    return AuditTrail.from_settings(engine, settings)


def append_rows(trail: AuditTrail, count: int, action: str = "read_case") -> None:
    with session_scope(trail.engine) as session:
        for n in range(count):
            trail.writer(session).add(action, "RR-1", {"n": n}, actor_id=n, actor_role="panel_chair")


def fields_of(row) -> list:
    """The hashed fields exactly as the code before keying listed them."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return [row.prev_hash, row.id, at.astimezone(UTC).isoformat(timespec="microseconds"), row.actor_id,
            row.actor_role, row.action, row.case_reference, row.detail, row.request_id, row.event_key]


def plain_sha256(row) -> str:
    """The pre-keying row hash (copied from the old code, not imported: the old rows must verify as written)."""
    return hashlib.sha256(json.dumps(fields_of(row), separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def hmac_under(key: bytes):
    def row_hash(row) -> str:
        body = json.dumps(["audit-row", *fields_of(row)], separators=(",", ":"), ensure_ascii=False).encode()
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return row_hash


def rewrite(engine, *, hash_row, kind: str | None, head_mac, delete: int | None = 4, edit: int | None = 2,
            from_id: int = 1, to_id: int | None = None) -> None:
    """The attack that passed before keying: delete a row (closing the gap in the ids), edit another, then
    recompute every hash from ``from_id`` (to ``to_id``; later rows are only relinked) with ``hash_row``,
    relabelling them as ``kind`` if given, and point the head at the new end, with ``head_mac``."""
    with Session(engine) as session:
        as_table_owner(session)
        if delete is not None:
            session.exec(text("DELETE FROM audit_event WHERE id = :id"), params={"id": delete})
            later = session.exec(text("SELECT id FROM audit_event WHERE id > :id ORDER BY id"),
                                 params={"id": delete}).all()
            for (old_id,) in later:
                session.exec(text("UPDATE audit_event SET id = :new WHERE id = :old"),
                             params={"new": old_id - 1, "old": old_id})
        if edit is not None:
            session.exec(text("UPDATE audit_event SET actor_role = 'auditor' WHERE id = :id"), params={"id": edit})
        session.commit()
        session.expunge_all()
        rows = session.exec(AuditEvent.__table__.select().order_by(AuditEvent.id)).all()
        prev = GENESIS_HASH
        for row in rows:
            if row.id < from_id:
                prev = row.hash
            elif to_id is not None and row.id > to_id:
                session.exec(text("UPDATE audit_event SET prev_hash = :prev WHERE id = :id"),
                             params={"prev": prev, "id": row.id})
                prev = row.hash
            else:
                new_hash = hash_row(SimpleNamespace(**{**row._asdict(), "prev_hash": prev}))
                session.exec(text("UPDATE audit_event SET prev_hash = :prev, hash = :hash, "
                                  "hash_kind = COALESCE(:kind, hash_kind) WHERE id = :id"),
                             params={"prev": prev, "hash": new_hash, "kind": kind, "id": row.id})
                prev = new_hash
        last_id = rows[-1].id
        session.exec(text("UPDATE audit_head SET last_id = :id, last_hash = :hash, mac = :mac WHERE id = 1"),
                     params={"id": last_id, "hash": prev, "mac": head_mac(last_id, prev)})
        session.commit()


def forged_head_mac(last_id: int, last_hash: str) -> str:
    body = json.dumps(["audit-head", last_id, last_hash], separators=(",", ":")).encode()
    return hmac.new(WRONG_KEY, body, hashlib.sha256).hexdigest()


def test_a_keyed_chain_verifies_and_its_hashes_need_the_key(trail):
    append_rows(trail, 5)
    check = trail.verify(full=True)
    assert check.intact is True, check.problems
    assert check.rows == 5
    with Session(trail.engine) as session:
        rows = session.exec(AuditEvent.__table__.select().order_by(AuditEvent.id)).all()
        head = session.get(AuditHead, 1)
    assert {row.hash_kind for row in rows} == {"hmac-sha256"}
    assert all(row.hash != plain_sha256(row) for row in rows), "a keyed hash is not the plain SHA-256"
    assert all(row.hash == hmac_under(trail.key)(row) for row in rows)
    assert head.mac is not None


def test_a_session_that_read_the_head_sees_the_rows_it_appends(trail):
    """Rows are appended as statements, not objects: a head this session loaded earlier must not be left stale."""
    append_rows(trail, 2)
    with session_scope(trail.engine) as session:
        before = session.get(AuditHead, 1)
        assert before.last_id == 2
        trail.writer(session).add("read_case", "RR-1", {}, actor_id=1, actor_role="panel_chair")
        assert session.get(AuditHead, 1).last_id == 3
    assert trail.verify(full=True).intact


ATTACKS = {
    "plain SHA-256, rows left labelled keyed": dict(hash_row=plain_sha256, kind=None, head_mac=lambda i, h: None),
    "plain SHA-256, rows relabelled as from before keying": dict(hash_row=plain_sha256, kind="sha256",
                                                                head_mac=lambda i, h: None),
    "HMAC under a wrong key, head signed with it": dict(hash_row=hmac_under(WRONG_KEY), kind=None,
                                                       head_mac=forged_head_mac),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_deleting_editing_and_recomputing_every_hash_is_found(trail, attack):
    trail.anchor_if_none(DAY)  # the service's start-up anchor (prepare_database, scheduler catch-up)
    append_rows(trail, 10)
    assert trail.verify().intact is True  # also sets the checkpoint that routine checks start from
    rewrite(trail.engine, **ATTACKS[attack])
    for full in (True, False):
        check = trail.verify(full=full)
        assert check.intact is False, f"{attack} passed {'full' if full else 'routine'} verification"
        assert check.full is True, "a checkpoint whose row changed sends the check back to row 1"
        if ATTACKS[attack]["kind"] is None:
            assert "row 1 was changed after it was written" in check.problems
            assert "row 9 was changed after it was written" in check.problems
        assert "the chain's head is not signed by the audit key (moved back or forged)" in check.problems


def test_the_whole_chain_relabelled_as_pre_keying_is_found_by_the_start_up_anchor_alone(trail):
    """Rewriting every keyed row as plain SHA-256 and clearing the head's MAC makes a chain that looks never
    keyed; an anchor, even one from before any row, makes the unsigned head a break."""
    trail.anchor_if_none(DAY)
    append_rows(trail, 6)
    rewrite(trail.engine, hash_row=plain_sha256, kind="sha256", head_mac=lambda i, h: None, delete=None, edit=None)
    check = trail.verify(full=True)
    assert check.problems == ["the chain's head is not signed by the audit key (moved back or forged)"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_refuses_to_update_or_delete_audit_rows(trail):
    append_rows(trail, 3)
    for statement in ("UPDATE audit_event SET action = 'nothing' WHERE id = 2",
                      "DELETE FROM audit_event WHERE id = 3",
                      "TRUNCATE audit_event"):
        with Session(trail.engine) as session, pytest.raises(DBAPIError, match="append-only"):
            session.exec(text(statement))
    with Session(trail.engine) as session:
        assert [row.action for row in session.exec(AuditEvent.__table__.select().order_by(AuditEvent.id))] == \
            ["read_case"] * 3
    assert trail.verify(full=True).intact is True


def test_a_chain_cut_after_an_anchor_is_broken_even_with_a_genuine_older_head(trail):
    """The insider keeps a backup of the head as it was at row 5 (its MAC is genuine), cuts rows 6..8 after
    the night's anchor recorded row 8, and puts the old head back: only the anchor can tell."""
    append_rows(trail, 5)
    with Session(trail.engine) as session:
        old_head = session.get(AuditHead, 1)
        saved = (old_head.last_id, old_head.last_hash, old_head.mac)
    append_rows(trail, 3)
    anchor = trail.write_anchor(DAY)
    assert anchor is not None and (trail.anchors.root / anchor).stat().st_mode & 0o777 == 0o600
    assert trail.verify().intact is True
    with Session(trail.engine) as session:
        as_table_owner(session)
        session.exec(text("DELETE FROM audit_event WHERE id > 5"))
        session.exec(text("UPDATE audit_head SET last_id = :id, last_hash = :hash, mac = :mac WHERE id = 1"),
                     params=dict(zip(("id", "hash", "mac"), saved, strict=True)))
        session.commit()
    for full in (True, False):
        check = trail.verify(full=full)
        assert f"the chain ends at row 5 but the anchor of {DAY} recorded row 8 (rows were cut off)" in check.problems
        assert check.intact is False


def test_anchors_are_never_overwritten_and_a_changed_anchor_is_refused(trail):
    append_rows(trail, 2)
    first = trail.anchors.root / trail.write_anchor(DAY)
    written = first.read_text()
    append_rows(trail, 2)
    assert trail.write_anchor(DAY) is None, "one anchor a day, never overwritten"
    assert first.read_text() == written
    assert trail.write_anchor(DAY + timedelta(days=1)) == f"audit-anchor-{DAY + timedelta(days=1)}.json"
    assert trail.verify(full=True).anchors == 2

    moved = json.loads(written) | {"last_id": 1}  # the insider moves the anchor back to match a cut chain
    first.write_text(json.dumps(moved))
    check = trail.verify(full=True)
    assert check.problems == [f"the anchor file audit-anchor-{DAY}.json is not signed by the audit key"]


def write_pre_keying_rows(engine, count: int) -> None:
    """Rows as the service wrote them before migration 0009: plain SHA-256, no hash kind, an unsigned head."""
    prev = GENESIS_HASH
    table = AuditEvent.__table__
    with Session(engine) as session:
        for n in range(1, count + 1):
            values = dict(id=n, at=datetime(2026, 11, 1, 9, n, tzinfo=UTC), actor_id=None, actor_role="system",
                          action="submit_referral", case_reference=f"RR-{n}", detail=json.dumps({"n": n}),
                          request_id=None, event_key=f"RR-{n}:submit", prev_hash=prev)
            values["hash"] = plain_sha256(SimpleNamespace(**values))
            session.exec(insert(table).values(**values))
            prev = values["hash"]
        session.exec(text("UPDATE audit_head SET last_id = :id, last_hash = :hash WHERE id = 1"),
                     params={"id": count, "hash": prev})
        session.commit()


@pytest.fixture
def upgraded_trail(settings):
    """A database with three rows from before keying, migrated to 0009, anchored at start-up, then three rows
    written by the keyed service."""
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine, "0008")
    write_pre_keying_rows(engine, 3)
    upgrade(engine)
    trail = AuditTrail.from_settings(engine, settings)
    trail.anchor_if_none(DAY)
    append_rows(trail, 3)
    yield trail
    engine.dispose()


def test_rows_from_before_keying_still_verify(upgraded_trail):
    check = upgraded_trail.verify(full=True)
    assert check.intact is True, check.problems
    assert check.rows == 6
    with Session(upgraded_trail.engine) as session:
        kinds = session.exec(text("SELECT hash_kind FROM audit_event ORDER BY id")).scalars().all()
    assert kinds == ["sha256"] * 3 + ["hmac-sha256"] * 3


def test_a_recomputed_pre_keying_prefix_breaks_at_the_first_keyed_row(upgraded_trail):
    """Before keying, a rewrite with plain SHA-256 was undetectable; now it stops at the first keyed row,
    whose HMAC covers the hash of the row before it."""
    with Session(upgraded_trail.engine) as session:
        head = session.get(AuditHead, 1)
        head_before = (head.last_id, head.last_hash, head.mac)
    rewrite(upgraded_trail.engine, hash_row=plain_sha256, kind=None, head_mac=lambda i, h: head_before[2],
            delete=None, edit=2, from_id=1, to_id=3)
    assert upgraded_trail.verify(full=True).problems == [
        "row 4 was changed after it was written",
        f"row 3 no longer has the hash the anchor of {DAY} recorded",  # the start-up anchor, after migrating
    ]


@pytest.mark.parametrize("from_id", [4, 5])
def test_keyed_rows_rewritten_as_sha256_are_a_downgrade(upgraded_trail, from_id):
    """From the first keyed row (the whole keyed part relabelled) or from the second (a plain row after a
    keyed one): either way the chain is broken."""
    rewrite(upgraded_trail.engine, hash_row=plain_sha256, kind="sha256", head_mac=lambda i, h: None, delete=None,
            edit=None, from_id=from_id)
    check = upgraded_trail.verify(full=True)
    assert check.intact is False
    assert "the chain's head is not signed by the audit key (moved back or forged)" in check.problems
    if from_id == 5:
        assert "row 5 has a plain SHA-256 hash after keyed rows (a downgrade)" in check.problems
        assert "row 6 has a plain SHA-256 hash after keyed rows (a downgrade)" in check.problems


def test_routine_verification_starts_at_the_checkpoint_and_still_sees_deletions(trail):
    append_rows(trail, 8)
    first = trail.verify()
    assert (first.intact, first.full, first.walked) == (True, True, 8)
    append_rows(trail, 2)
    routine = trail.verify()
    assert (routine.intact, routine.full, routine.walked, routine.rows) == (True, False, 2, 10)

    append_rows(trail, 2)
    with Session(trail.engine) as session:  # an edit after the checkpoint (row 10), no recomputing
        as_table_owner(session)
        session.exec(text("UPDATE audit_event SET action = 'nothing' WHERE id = 12"))
        session.commit()
    edited = trail.verify()
    assert (edited.problems, edited.walked) == (["row 12 was changed after it was written"], 2)

    with Session(trail.engine) as session:  # a deletion before the checkpoint
        as_table_owner(session)
        session.exec(text("DELETE FROM audit_event WHERE id = 3"))
        session.commit()
    check = trail.verify()
    assert "1 rows up to row 10, verified intact before, are missing (deleted)" in check.problems
    assert "rows 3..3 are missing (deleted)" in check.problems, "then the whole chain is walked"
    assert "row 12 was changed after it was written" in check.problems


def test_a_forged_checkpoint_is_refused(trail):
    append_rows(trail, 4)
    assert trail.verify().intact is True
    append_rows(trail, 2)
    with Session(trail.engine) as session:  # skip row 5, which the insider changed, by moving the checkpoint
        as_table_owner(session)
        session.exec(text("UPDATE audit_event SET action = 'nothing' WHERE id = 5"))
        hash_6 = session.exec(text("SELECT hash FROM audit_event WHERE id = 6")).one()[0]
        session.exec(text("UPDATE audit_checkpoint SET last_id = 6, last_hash = :hash"), params={"hash": hash_6})
        session.commit()
    check = trail.verify()
    assert "the verification checkpoint is not signed by the audit key (forged)" in check.problems
    assert "row 5 was changed after it was written" in check.problems


def test_anchor_directory_and_files_are_private(trail, settings):
    trail.write_anchor(DAY)
    assert settings.audit_anchor_dir.stat().st_mode & 0o077 == 0
    assert all(path.stat().st_mode & 0o077 == 0 for path in settings.audit_anchor_dir.iterdir())
    assert os.listdir(settings.audit_anchor_dir) == [f"audit-anchor-{DAY}.json"]


def test_chain_checks_of_the_api_and_the_audit_page_run_in_the_threadpool():
    """FastAPI runs a sync route in its threadpool: a long walk there never stalls /healthz."""
    from service.api.audit import verify_audit_chain
    from service.web.audit import audit_case, audit_index

    assert not inspect.iscoroutinefunction(verify_audit_chain)
    assert not inspect.iscoroutinefunction(audit_index) and not inspect.iscoroutinefunction(audit_case)


def saved_head_and_checkpoint(trail: AuditTrail) -> dict:
    """The insider's copy of the head and checkpoint rows, both genuinely signed."""
    with Session(trail.engine) as session:
        head = session.exec(text("SELECT last_id, last_hash, mac FROM audit_head")).one()
        checkpoint = session.exec(text("SELECT last_id, last_hash, verified_at, mac FROM audit_checkpoint")).one()
    return {"head": dict(head._mapping), "checkpoint": dict(checkpoint._mapping)}


def cut_tail_and_restore(trail: AuditTrail, saved: dict) -> None:
    with Session(trail.engine) as session:
        as_table_owner(session)
        session.exec(text("DELETE FROM audit_event WHERE id > :id"), params={"id": saved["head"]["last_id"]})
        session.exec(text("UPDATE audit_head SET last_id = :last_id, last_hash = :last_hash, mac = :mac"),
                     params=saved["head"])
        session.exec(text("UPDATE audit_checkpoint SET last_id = :last_id, last_hash = :last_hash, "
                          "verified_at = :verified_at, mac = :mac"), params=saved["checkpoint"])
        session.commit()


@pytest.mark.parametrize("anchored_by", ["the hourly job", "the next verification"])
def test_a_cut_tail_with_the_saved_head_and_checkpoint_put_back_is_found(trail, anchored_by):
    """The first anchor of the day is at row 0 (start-up); rows 1..5 are verified, and the insider saves the head
    and checkpoint. Rows 6..8 are written and anchored (hourly, or when a verification moves the checkpoint);
    the insider deletes them and puts the saved head and checkpoint back."""
    trail.checkpoint_anchor_every = timedelta(0)  # (a service anchors a moved checkpoint at most every 5 minutes)
    trail.anchor_if_none(DAY)
    append_rows(trail, 5)
    assert trail.verify().intact is True
    saved = saved_head_and_checkpoint(trail)
    append_rows(trail, 3)
    if anchored_by == "the hourly job":
        assert jobs.anchor_audit_head(trail)["anchor"] is not None
        assert jobs.anchor_audit_head(trail)["anchor"] is None, "nothing moved: no second file"
    else:
        assert trail.verify().intact is True
    cut_tail_and_restore(trail, saved)
    for full in (False, True):
        check = trail.verify(full=full)
        assert check.intact is False, "the cut tail is reported"
        assert any(p.startswith("the chain ends at row 5 but the anchor of ") and
                   p.endswith("recorded row 8 (rows were cut off)") for p in check.problems), check.problems
        if anchored_by == "the next verification":
            assert any(p.startswith("the verification checkpoint is at row 5 but the anchor of ") and
                       "recorded it at row 8" in p for p in check.problems), check.problems


def test_routine_checks_anchor_a_moved_checkpoint_at_most_every_few_minutes(trail, settings):
    """Every /metrics scrape and audit page runs a routine check: a busy service must not write an anchor file for
    each; the hourly job anchors what they left."""
    append_rows(trail, 2)
    assert trail.verify().intact is True  # the first checkpoint: anchored
    for _ in range(3):
        append_rows(trail, 1)
        assert trail.verify().intact is True
    assert len(os.listdir(settings.audit_anchor_dir)) == 1
    assert jobs.anchor_audit_head(trail)["anchor"] is not None, "the hourly job anchors the moved head"
    assert len(os.listdir(settings.audit_anchor_dir)) == 2
