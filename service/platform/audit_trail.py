"""Verifying the audit chain against what is kept outside the database, and starting where the last
verification stopped.

The key alone does not stop an insider who owns the database: they can cut rows off the end and put back a
head and checkpoint they saved earlier (both genuinely signed), or put back an older copy of the whole table.
So the head (last id, last hash) and the checkpoint (the row count verified and when) are written to a signed
anchor file outside the database, never overwritten: every hour the head moved, every time a verification
moves the checkpoint, at start-up and nightly. A chain whose row N no longer has the hash an anchor recorded,
that is shorter than an anchor says, or whose checkpoint is behind the one an anchor recorded, is broken.
Only rows written since the last anchor (at most an hour's) can be cut unseen.

Walking 150,000 rows takes seconds, so routine verification starts at a checkpoint (the last row a walk
found intact, signed with the key) and walks only the rows after it; the nightly job and auditors asking
for ``full`` walk from row 1. Verification is blocking database work: callers run it in a thread.
"""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from records.audit import (
    AuditWriter,
    ChainStart,
    HashKind,
    ReadAudit,
    chain_rows,
    check_head,
    checkpoint_mac,
    head_mac,
    sign,
    signed_by,
    walk_chain,
)
from records.db import session_scope
from records.models import AuditCheckpoint, AuditEvent, AuditHead
from records.object_store import FileStore, ObjectStore
from service.platform.settings import Settings

ANCHOR_PREFIX = "audit-anchor-"
log = logging.getLogger(__name__)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class ChainCheck:
    """The verdict of one verification: ``rows`` is the chain's length as far as it was checked;
    ``walked`` the rows hashed this time (all of them when ``full``)."""

    intact: bool
    rows: int
    problems: list[str]
    full: bool = True
    walked: int = 0
    anchors: int = 0

    def as_dict(self) -> dict:
        return {"intact": self.intact, "rows": self.rows, "problems": self.problems, "full": self.full,
                "walked": self.walked, "anchors": self.anchors}


@dataclass(frozen=True)
class Anchor:
    """The chain's head as it was at ``day`` (a day for the nightly anchors of old, else a UTC moment), and the
    verification checkpoint then (its row, which is the count of rows verified, and when it was verified)."""

    day: str
    last_id: int
    last_hash: str
    written_at: str
    checkpoint_id: int | None = None
    checkpoint_at: str | None = None

    def signed_values(self) -> list:
        values = [self.day, self.last_id, self.last_hash, self.written_at]
        return values if self.checkpoint_id is None else [*values, self.checkpoint_id, self.checkpoint_at]

    def same_state(self, other: Anchor) -> bool:
        return (self.last_id, self.last_hash, self.checkpoint_id) == (other.last_id, other.last_hash,
                                                                      other.checkpoint_id)


@dataclass
class Anchors:
    found: list[Anchor] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class AuditTrail:
    """The audit chain of one database, with the key that signs it and the store its anchors are written to."""

    # A checkpoint moved by a routine check (every /metrics scrape, every audit page) is anchored at most this
    # often, so a busy service writes a few anchors an hour, not thousands a day; the hourly job anchors the rest.
    checkpoint_anchor_every = timedelta(minutes=5)

    def __init__(self, engine: Engine, key: bytes, anchors: ObjectStore | Path) -> None:
        if not key:
            raise ValueError("the audit key is empty: RAPID_REVIEW_AUDIT_KEY must be set")
        self.engine, self.key = engine, key
        self.anchors = FileStore(anchors) if isinstance(anchors, Path) else anchors
        self.reads = ReadAudit(engine, key)  # where this process's reads append their rows, in batches

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> AuditTrail:
        return cls(engine, settings.audit_key_bytes, settings.anchor_store())

    def writer(self, session: Session, request_id: str | None = None) -> AuditWriter:
        """The audit writer of a request or job: its session, this chain's key, its reads batched."""
        return AuditWriter(session, self.key, request_id, self.reads)

    # ------------------------------------------------------------ anchors

    @staticmethod
    def anchor_label(at: date | datetime) -> str:
        """An anchor's name: the day (nightly anchors of old) or the UTC moment it was taken (to the microsecond:
        the anchor of a checkpoint and the next one must not share a name)."""
        if isinstance(at, datetime):
            return at.astimezone(UTC).strftime("%Y-%m-%dT%H%M%S.%fZ")
        return at.isoformat()

    def anchor_key(self, at: date | datetime) -> str:
        return f"{ANCHOR_PREFIX}{self.anchor_label(at)}.json"

    def write_anchor(self, at: date | datetime | None = None, *, not_within: timedelta | None = None) -> str | None:
        """Anchor the head and the checkpoint as they are now, named after ``at`` (now by default); None if the
        newest anchor already holds this state or was written less than ``not_within`` ago, or an anchor of that
        name exists (never overwritten).

        A head still unsigned because no keyed row was written yet (a chain of rows from before keying) is
        signed first: once an anchor exists, verification insists on a signed head, so nobody can rewrite
        the keyed rows as plain SHA-256 and clear the head's MAC to pass them off as a chain never keyed."""
        at = at or datetime.now(UTC)
        with session_scope(self.engine) as session:
            head = session.get(AuditHead, 1)
            if head.mac is None and self._ends_before_keying(session, head):
                session.exec(update(AuditHead).where(AuditHead.id == 1, AuditHead.last_id == head.last_id,
                                                     AuditHead.mac.is_(None))
                             .values(mac=head_mac(self.key, head.last_id, head.last_hash)))
            checkpoint = session.get(AuditCheckpoint, 1)
            anchor = Anchor(day=self.anchor_label(at), last_id=head.last_id, last_hash=head.last_hash,
                            written_at=datetime.now(UTC).isoformat(timespec="seconds"),
                            checkpoint_id=checkpoint.last_id if checkpoint else None,
                            checkpoint_at=_utc(checkpoint.verified_at).isoformat() if checkpoint else None)
        found = self.read_anchors().found
        newest = max(found, key=lambda a: (a.last_id, a.checkpoint_id or 0), default=None)
        if newest is not None and newest.same_state(anchor):
            return None
        latest = max((datetime.fromisoformat(a.written_at) for a in found), default=None)
        if not_within and latest is not None and datetime.now(UTC) - _utc(latest) < not_within:
            return None
        document = {**anchor.__dict__, "signature": sign(self.key, "audit-anchor", anchor.signed_values())}
        return self.store_anchor(self.anchor_key(at), document)

    def store_anchor(self, key: str, document: dict) -> str | None:
        """Write one anchor to the anchor store, never over an existing one: its key, or None if it exists."""
        return key if self.anchors.create(key, json.dumps(document, indent=1).encode()) else None

    def anchor_if_none(self, day: date) -> str | None:
        """At start-up: the first anchor, so the head is signed and anchored from the service's first start
        after migration 0009 instead of from the first night."""
        if self.read_anchors().found:
            return None
        return self.write_anchor(day)

    @staticmethod
    def _ends_before_keying(session: Session, head: AuditHead) -> bool:
        """The chain is empty or its last row is from before keying (every keyed append signs the head)."""
        last = session.get(AuditEvent, head.last_id) if head.last_id else None
        return head.last_id == 0 or (last is not None and last.hash_kind == HashKind.sha256)

    def read_anchors(self) -> Anchors:
        """Every anchor; one that is unreadable or not signed by the key is a problem, not an anchor."""
        anchors = Anchors()
        for key in self.anchors.keys(ANCHOR_PREFIX):
            if not key.endswith(".json"):
                continue
            try:
                data = json.loads(self.anchors.read(key))
                checkpoint_id = data.get("checkpoint_id")
                anchor = Anchor(day=str(data["day"]), last_id=int(data["last_id"]),
                                last_hash=str(data["last_hash"]), written_at=str(data["written_at"]),
                                checkpoint_id=None if checkpoint_id is None else int(checkpoint_id),
                                checkpoint_at=data.get("checkpoint_at"))
                signature = data["signature"]
            except (OSError, LookupError, ValueError, TypeError):
                anchors.problems.append(f"the anchor file {key} cannot be read")
                continue
            if not signed_by(self.key, "audit-anchor", anchor.signed_values(), signature):
                anchors.problems.append(f"the anchor file {key} is not signed by the audit key")
                continue
            anchors.found.append(anchor)
        return anchors

    def _check_anchors(self, session: Session, anchors: list[Anchor], chain_end: int) -> list[str]:
        """Each anchored row must still exist with the hash the anchor recorded."""
        problems = []
        wanted = sorted({a.last_id for a in anchors if 0 < a.last_id <= chain_end})
        hashes: dict[int, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            hashes.update(session.exec(select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id.in_(chunk))).all())
        for anchor in anchors:
            if anchor.last_id > chain_end:
                problems.append(f"the chain ends at row {chain_end} but the anchor of {anchor.day} recorded "
                                f"row {anchor.last_id} (rows were cut off)")
            elif anchor.last_id and hashes.get(anchor.last_id) != anchor.last_hash:
                problems.append(f"row {anchor.last_id} no longer has the hash the anchor of {anchor.day} recorded")
        return problems

    @staticmethod
    def _check_checkpoint(session: Session, anchors: list[Anchor]) -> list[str]:
        """The checkpoint must not be behind the furthest one an anchor recorded: one put back from a saved
        copy (to hide a cut tail) is found even when the head was put back with it."""
        recorded = max((a for a in anchors if a.checkpoint_id), key=lambda a: a.checkpoint_id, default=None)
        checkpoint = session.get(AuditCheckpoint, 1)
        if recorded is None or (checkpoint is not None and checkpoint.last_id >= recorded.checkpoint_id):
            return []
        return [f"the verification checkpoint is at row {checkpoint.last_id if checkpoint else 0} but the anchor "
                f"of {recorded.day} recorded it at row {recorded.checkpoint_id}, verified {recorded.checkpoint_at} "
                "(moved back)"]

    # ------------------------------------------------------------ verification

    def _start(self, session: Session, problems: list[str]) -> ChainStart | None:
        """Where routine verification may start: the signed checkpoint, if its row is still there unchanged
        and no row before it was deleted. None means walk the whole chain (and why is in ``problems``)."""
        checkpoint = session.get(AuditCheckpoint, 1)
        if checkpoint is None:
            return None
        if not self._checkpoint_signed(checkpoint):
            problems.append("the verification checkpoint is not signed by the audit key (forged)")
            return None
        row = session.get(AuditEvent, checkpoint.last_id)
        if row is None or row.hash != checkpoint.last_hash:
            problems.append(f"row {checkpoint.last_id}, verified intact on {checkpoint.verified_at:%Y-%m-%d %H:%M} "
                            "UTC, is gone or its hash changed")
            return None
        kept = session.exec(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.id <= checkpoint.last_id)).one()
        if kept != checkpoint.last_id:
            problems.append(f"{checkpoint.last_id - kept} rows up to row {checkpoint.last_id}, verified intact "
                            "before, are missing (deleted)")
            return None
        return ChainStart(checkpoint.last_id, checkpoint.last_hash, keyed=row.hash_kind == HashKind.hmac_sha256)

    def _checkpoint_signed(self, checkpoint: AuditCheckpoint) -> bool:
        """Signed with its time, or in the form written before the time was signed (accepted: its row count,
        which the anchors compare, is signed either way)."""
        return any(hmac.compare_digest(checkpoint_mac(self.key, checkpoint.last_id, checkpoint.last_hash, at),
                                       checkpoint.mac or "") for at in (checkpoint.verified_at, None))

    def verify(self, *, full: bool = False) -> ChainCheck:
        """Verify the chain: from the checkpoint (routine) or from row 1 (``full``), then the head and every
        anchor. An intact result moves the checkpoint forward."""
        anchors = self.read_anchors()
        problems = list(anchors.problems)
        with Session(self.engine) as session:
            # The head first, and only the rows up to it: rows appended while we walk wait for the next check.
            head = session.get(AuditHead, 1)
            start = None if full else self._start(session, problems)
            walked_all = start is None
            start = start or ChainStart()
            walk = walk_chain(chain_rows(session, after_id=start.last_id, up_to=head.last_id if head else 0),
                              self.key, start)
            problems += walk.problems
            problems += check_head(head, walk, self.key, must_be_signed=bool(anchors.found))
            problems += self._check_anchors(session, anchors.found, walk.last_id)
            problems += self._check_checkpoint(session, anchors.found)
            session.rollback()
        check = ChainCheck(intact=not problems, rows=start.last_id + walk.walked, problems=problems,
                           full=walked_all, walked=walk.walked, anchors=len(anchors.found))
        if check.intact and walk.last_id > 0:
            self._save_checkpoint(walk.last_id, walk.last_hash)
        return check

    def _save_checkpoint(self, last_id: int, last_hash: str) -> None:
        """Move the checkpoint forward (never back: a slower walk that finished later keeps the further one),
        then anchor it with the head, so a checkpoint and head put back from a saved copy are found."""
        try:
            moved = self._move_checkpoint(last_id, last_hash)
        except IntegrityError:
            moved = False  # another verification wrote the first checkpoint at the same moment; it anchors it
        if not moved:
            return
        try:
            self.write_anchor(not_within=self.checkpoint_anchor_every)
        except Exception:  # a full disk, an unreachable bucket: the verdict stands; the hourly job anchors again
            log.exception("could not anchor the audit checkpoint in the anchor store")

    def _move_checkpoint(self, last_id: int, last_hash: str) -> bool:
        with session_scope(self.engine) as session:
            checkpoint = session.get(AuditCheckpoint, 1)
            if checkpoint is not None and checkpoint.last_id >= last_id:
                return False
            checkpoint = checkpoint or AuditCheckpoint(id=1, last_id=0, last_hash="", verified_at=datetime.now(UTC),
                                                       mac="")
            checkpoint.last_id, checkpoint.last_hash = last_id, last_hash
            checkpoint.verified_at = datetime.now(UTC)
            checkpoint.mac = checkpoint_mac(self.key, last_id, last_hash, checkpoint.verified_at)
            session.add(checkpoint)
        return True
