"""Writing one audit row for a request: who (actor and role), what, which case, and the request id the log line
shares. Routes, pages and the services below them all write through this, so the rows are the same whichever
way a person came in.

A change's row is written in the change's own transaction. A read's row is the only thing a read writes, so reads
append theirs together (``ReadAudit``): one transaction and one update of the chain's head for every read that
arrived while the last batch was being written, instead of one write lock per read."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session

from records.audit import AuditEntry, append_audit, append_audit_rows
from records.db import reads_only, session_scope
from records.models import User


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
        with self._changed:
            self._pending.append(mine)
            self._changed.notify_all()  # (anyone watching the queue)
            self._changed.wait_for(lambda: mine.done or not self._writing)
            if mine.done:
                self._outcome(mine)
                return
            batch, self._pending, self._writing = self._pending, [], True
            self._changed.notify_all()
        try:
            with session_scope(self.engine) as session:
                append_audit_rows(session, key=self.key, entries=[p.entry for p in batch])
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
    session: Session
    key: bytes
    request_id: str | None = None
    reads: ReadAudit | None = None  # where a read's rows go (a session that only reads writes none itself)

    def write(self, user: User | None, action: str, reference: str | None, detail: dict) -> None:
        """Append one audit row and commit it: in this session's transaction, or for a reading session (a GET)
        through the read batch."""
        who = {"actor_id": user.id if user else None, "actor_role": user.role if user else "anonymous"}
        if self.reads is not None and reads_only(self.session):
            self.session.commit()  # end the read; the batch writes in its own transaction
            self.reads.append(AuditEntry(**who, action=action, case_reference=reference, detail=detail,
                                         request_id=self.request_id))
            return
        append_audit(self.session, key=self.key, **who, action=action, case_reference=reference, detail=detail,
                     request_id=self.request_id)
        self.session.commit()
