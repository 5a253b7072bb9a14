"""The audit trail: append-only rows in a keyed hash chain, the one writer that appends them (``AuditWriter``, reads
batched by ``ReadAudit``), and the walk that verifies it.

Each row's hash is an HMAC-SHA256, under a key kept outside the database, of the previous row's hash and
the row's fields. An insider who can rewrite the table cannot recompute the hashes of the rows they change,
so the walk finds the change. Rows written before keying began (hash kind ``sha256``) still verify, but
only as an unbroken prefix: a plain row after the first keyed row is refused, so keyed rows cannot be
"downgraded" to plain SHA-256. The head carries a MAC too, so cutting rows off the end and moving the head
back also needs the key. Rewriting every keyed row as plain SHA-256 and clearing the head's MAC is found by
the anchors (service/platform/audit_trail.py): signed copies of the head kept outside the database; once one
exists the head must be signed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import SimpleNamespace

from sqlalchemy import Connection, Engine, bindparam, insert, update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from records.db import begin_write, one_writer_at_a_time, reads_only, writers_lock_path
from records.models import AuditEvent, AuditHead, User

GENESIS_HASH = "0" * 64
# The kinds of row an auditor tells apart: reads (opening, listing, downloading), refusals and changes.
READ_PREFIXES = ("read_", "list_", "export_")
DENIED = "denied"  # a refused request (403/404 to a signed-in person): shown to auditors only
READ_ACTIONS = frozenset({"decode_payloads", "verify_audit_chain"})


def is_read(action: str) -> bool:
    """Reads (opening, listing, downloading), as against changes and refusals."""
    return action.startswith(READ_PREFIXES) or action in READ_ACTIONS


class HashKind(StrEnum):
    """How a row's hash was made: plain SHA-256 (rows from before keying) or HMAC-SHA256 with the audit key."""

    sha256 = "sha256"
    hmac_sha256 = "hmac-sha256"


def _canonical_time(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(values: list) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: bytes, label: str, values: list) -> str:
    """HMAC-SHA256 of a labelled list of values: the label keeps a row hash, a head MAC, a checkpoint MAC
    and an anchor signature from ever standing in for one another."""
    return hmac.new(key, _canonical([label, *values]), hashlib.sha256).hexdigest()


def signed_by(key: bytes, label: str, values: list, mac: str | None) -> bool:
    return mac is not None and hmac.compare_digest(sign(key, label, values), mac)


def row_hash(prev_hash: str, row: AuditEvent, key: bytes) -> str:
    """The row's hash by its own kind: HMAC-SHA256 under ``key``, or plain SHA-256 for a legacy row
    (over the previous hash and every field of the row except its own hash)."""
    fields = [prev_hash, row.id, _canonical_time(row.at), row.actor_id, row.actor_role, row.action,
              row.case_reference, row.detail, row.request_id, row.event_key]
    if row.hash_kind == HashKind.sha256:
        return hashlib.sha256(_canonical(fields)).hexdigest()
    return sign(key, "audit-row", fields)


def head_mac(key: bytes, last_id: int, last_hash: str) -> str:
    return sign(key, "audit-head", [last_id, last_hash])


def checkpoint_mac(key: bytes, last_id: int, last_hash: str, verified_at: datetime | None) -> str:
    """The checkpoint's MAC: its row (the count of rows verified, ids being contiguous), that row's hash and when
    it was verified; ``verified_at=None`` gives the form checkpoints had before their time was signed."""
    values = [last_id, last_hash] if verified_at is None else [last_id, last_hash, _canonical_time(verified_at)]
    return sign(key, "audit-checkpoint", values)


@dataclass(frozen=True)
class AuditEntry:
    """One row to append: who, what, which case and when (its id and hashes come from the chain's head)."""

    actor_id: int | None
    actor_role: str
    action: str
    detail: dict
    case_reference: str | None = None
    request_id: str | None = None
    event_key: str | None = None
    at: datetime | None = None


HEAD, EVENTS = AuditHead.__table__, AuditEvent.__table__
# The append's statements, made once: built for every append, they cost more than running them.
LOCK_HEAD = update(HEAD).where(HEAD.c.id == 1).values(last_id=HEAD.c.last_id)
READ_HEAD = select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1).with_for_update()
ADD_ROWS = insert(EVENTS)
MOVE_HEAD = update(HEAD).where(HEAD.c.id == 1).values(
    last_id=bindparam("new_last_id"), last_hash=bindparam("new_last_hash"), mac=bindparam("new_mac"))


def _append(session: Session, key: bytes, entries: list[AuditEntry]) -> list[int]:
    """Add keyed rows at the end of the chain in the session's transaction (which commits them); returns their ids.
    Only the writer below calls this."""
    ids = _append_rows(session.connection(), key, entries)
    if (held := session.identity_map.get(identity_key(AuditHead, 1))) is not None:
        session.expire(held)  # this session's copy of the head is out of date now
    return ids


def _append_rows(connection: Connection, key: bytes, entries: list[AuditEntry]) -> list[int]:
    """Add keyed rows at the end of the chain, in order, under one lock of its head and one update of it, in the
    connection's transaction. Core statements, not ORM objects: a busy service appends a row for every read, and the
    ORM's work per statement cost more than the rest of the append."""
    if not key:
        raise ValueError("the audit key is empty: RAPID_REVIEW_AUDIT_KEY must be set")
    # Take the chain's head first: the UPDATE locks it (PostgreSQL row lock, SQLite write lock),
    # so concurrent appends queue up instead of forking the chain.
    connection.execute(LOCK_HEAD)
    last_id, last_hash = connection.execute(READ_HEAD).one()
    rows = []
    for entry in entries:
        row = SimpleNamespace(
            id=last_id + 1,
            at=entry.at or datetime.now(UTC),
            actor_id=entry.actor_id,
            actor_role=str(entry.actor_role),
            action=entry.action,
            case_reference=entry.case_reference,
            detail=json.dumps(entry.detail, sort_keys=True, ensure_ascii=False, default=str),
            request_id=entry.request_id,
            event_key=entry.event_key,
            prev_hash=last_hash,
            hash_kind=HashKind.hmac_sha256,
        )
        row.hash = row_hash(last_hash, row, key)
        rows.append(vars(row))
        last_id, last_hash = row.id, row.hash
    connection.execute(ADD_ROWS, rows)
    connection.execute(MOVE_HEAD, {"new_last_id": last_id, "new_last_hash": last_hash,
                                   "new_mac": head_mac(key, last_id, last_hash)})
    return [row["id"] for row in rows]


@dataclass
class _Pending:
    entry: AuditEntry
    done: bool = False
    error: BaseException | None = None


@dataclass
class ReadAudit:
    """Group commit of read rows. A reader queues its row and waits until it is committed: the first waiter finds
    no batch being written, so it writes every queued row in one transaction (the chain's head locked and updated
    once) while later readers queue behind it for the next batch. Nothing is kept only in memory: a read answers
    after its row is in the database, so an auditor (and a crash) misses none."""

    engine: Engine
    key: bytes
    _pending: list[_Pending] = field(default_factory=list)
    _writing: bool = False
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def append(self, entry: AuditEntry) -> None:
        """Append one read's row; returns once it is committed (raises if its batch could not be written)."""
        mine = _Pending(entry)
        with self._changed:  # (waiters are woken only when a batch is written: nothing else ends a wait)
            self._pending.append(mine)
            self._changed.wait_for(lambda: mine.done or not self._writing)
            if mine.done:
                self._outcome(mine)
                return
            batch, self._pending, self._writing = self._pending, [], True
        try:
            with one_writer_at_a_time(writers_lock_path(self.engine)), self.engine.begin() as connection:
                _append_rows(connection, self.key, [p.entry for p in batch])
        except BaseException as error:
            for pending in batch:
                pending.error = error
            raise
        finally:
            with self._changed:
                for pending in batch:
                    pending.done = True
                self._writing = False
                self._changed.notify_all()

    @staticmethod
    def _outcome(pending: _Pending) -> None:
        if pending.error is not None:
            raise RuntimeError("the audit row of this read could not be written") from pending.error


@dataclass(frozen=True)
class AuditWriter:
    """The one way an audit row is written, whoever writes it: a route, a page or a service below them (through
    ``AuditTrail.writer``), the case-step activity, a job, the command line. So every row carries the same fields
    and joins the keyed chain the same way.

    A person's row (``write``) is committed at once: a change's in the change's own transaction; a read's, the only
    thing a read writes, through the read batch (``ReadAudit``). A row that belongs to a larger change (a workflow
    step, an account or calendar change, an engine alert) is ``add``-ed to the caller's transaction, which commits
    it with the rest."""

    session: Session
    key: bytes
    request_id: str | None = None
    reads: ReadAudit | None = None  # where a read's rows go (a session that only reads writes none itself)

    def write(self, user: User | None, action: str, reference: str | None, detail: dict) -> None:
        """Append one person's row and commit it: in this session's transaction, or for a reading session (a GET)
        through the read batch."""
        who = {"actor_id": user.id if user else None, "actor_role": user.role if user else "anonymous"}
        if self.reads is not None and reads_only(self.session):
            self.session.commit()  # end the read; the batch writes in its own transaction
            self.reads.append(AuditEntry(**who, action=action, case_reference=reference, detail=detail,
                                         request_id=self.request_id))
            return
        begin_write(self.session)  # after a read (``begin_read``): the row takes the write lock for itself
        self.add(action, reference, detail, **who)
        self.session.commit()

    def add(self, action: str, reference: str | None, detail: dict, *, actor_id: int | None, actor_role: str,
            event_key: str | None = None, at: datetime | None = None) -> int:
        """One row at the end of the chain, in the caller's transaction (which commits it); returns its id."""
        return self.add_all([AuditEntry(actor_id=actor_id, actor_role=actor_role, action=action, detail=detail,
                                        case_reference=reference, request_id=self.request_id, event_key=event_key,
                                        at=at)])[0]

    def add_all(self, entries: list[AuditEntry]) -> list[int]:
        """Rows already made, in order, under one lock of the chain's head (seeding many at once)."""
        return _append(self.session, self.key, entries)


@dataclass
class ChainStart:
    """Where a walk begins: before row 1, or after a row already verified (a checkpoint)."""

    last_id: int = 0
    last_hash: str = GENESIS_HASH
    keyed: bool = False  # the row at last_id is keyed, so every row after it must be


@dataclass
class ChainWalk:
    """What one walk found: problems, the rows it walked, and the last row it reached."""

    problems: list[str] = field(default_factory=list)
    walked: int = 0
    last_id: int = 0
    last_hash: str = GENESIS_HASH
    keyed: bool = False


def walk_chain(rows: Iterable[AuditEvent], key: bytes, start: ChainStart) -> ChainWalk:
    """Check each row against the one before it: a changed row breaks its hash, a deleted row leaves a gap
    in the ids and a broken link, and a plain SHA-256 row after a keyed one is a downgrade."""
    walk = ChainWalk(last_id=start.last_id, last_hash=start.last_hash, keyed=start.keyed)
    for row in rows:
        walk.walked += 1
        if row.id != walk.last_id + 1:
            walk.problems.append(f"rows {walk.last_id + 1}..{row.id - 1} are missing (deleted)")
        if row.prev_hash != walk.last_hash:
            walk.problems.append(f"row {row.id} does not follow the row before it")
        if row.hash_kind not in (HashKind.sha256, HashKind.hmac_sha256):
            walk.problems.append(f"row {row.id} has an unknown hash kind {row.hash_kind!r}")
        elif row.hash_kind == HashKind.sha256 and walk.keyed:
            walk.problems.append(f"row {row.id} has a plain SHA-256 hash after keyed rows (a downgrade)")
        elif not hmac.compare_digest(row_hash(row.prev_hash, row, key), row.hash):
            walk.problems.append(f"row {row.id} was changed after it was written")
        walk.keyed = walk.keyed or row.hash_kind == HashKind.hmac_sha256
        walk.last_id, walk.last_hash = row.id, row.hash
    return walk


def check_head(head: AuditHead | None, walk: ChainWalk, key: bytes, *, must_be_signed: bool) -> list[str]:
    """The head must name the chain's last row and, once keying began (a keyed row, a MAC on the head, or
    ``must_be_signed``: an anchor exists), carry the key's MAC of it."""
    if head is None:
        return ["the chain's head is missing"]
    problems = []
    if head.last_id != walk.last_id or head.last_hash != walk.last_hash:
        problems.append(f"the chain ends at row {walk.last_id} but its head says row {head.last_id}")
    signed_since_keying = head.mac is not None or walk.keyed or must_be_signed
    if signed_since_keying and not signed_by(key, "audit-head", [head.last_id, head.last_hash], head.mac):
        problems.append("the chain's head is not signed by the audit key (moved back or forged)")
    return problems


def chain_rows(session: Session, *, after_id: int, up_to: int, batch: int = 5000) -> Iterable[AuditEvent]:
    """The rows after ``after_id`` up to ``up_to`` in id order, in batches so a long chain is never all in
    memory at once."""
    while True:
        rows = session.exec(select(AuditEvent).where(AuditEvent.id > after_id, AuditEvent.id <= up_to)
                            .order_by(AuditEvent.id).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after_id = rows[-1].id
        for row in rows:
            session.expunge(row)
