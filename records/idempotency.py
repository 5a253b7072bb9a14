"""Idempotency-Key: a client that retries a request (timeout, crash, lost reply) gets the first answer and the
request takes effect once. The key is per user; the first attempt's row is written before anything happens,
so a retry after a crash resumes it (case starts and workflow updates are themselves deduplicated by id).

The same key sent to two API replicas at once is one request too: the row's primary key lets one insert win, and
the other reads the winner's row and resumes it (the same workflow update id, or the same case reference, which
``bind_reference`` gives a key once), so both answers name the same case and nothing happens twice."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from records.db import begin_write
from records.errors import Conflict, InvalidInput
from records.models import IdempotentRequest

MAX_KEY_LENGTH = 120


def fingerprint(method: str, path: str, body: object) -> str:
    material = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass
class Claim:
    """What a request with a key finds: a finished answer to replay, or its own (maybe resumed) row."""

    row: IdempotentRequest
    finished: bool

    @property
    def update_id(self) -> str:
        return f"idem:{self.row.user_id}:{self.row.key}"


def claim(session: Session, user_id: int, key: str, print_: str) -> Claim:
    """Find or write the row for this key (committed at once, so a crash later still leaves it). Losing the
    insert to another replica is finding its row: this request then resumes the same one."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    begin_write(session)  # it may insert: the write lock first (after a request's reads, ``begin_read``)
    row = session.get(IdempotentRequest, (user_id, key))
    if row is None:
        row = IdempotentRequest(user_id=user_id, key=key, fingerprint=print_)
        session.add(row)
        try:
            session.commit()
            return Claim(row, finished=False)
        except IntegrityError:
            session.rollback()  # the other insert has committed (PostgreSQL made this one wait for it)
            row = session.get(IdempotentRequest, (user_id, key))
            if row is None:
                raise Conflict("A request with this Idempotency-Key is in progress; retry shortly") from None
    if row.fingerprint != print_:
        raise InvalidInput("This Idempotency-Key was already used for a different request")
    return Claim(row, finished=row.status_code is not None)


def remember(session: Session, row: IdempotentRequest, status_code: int, body: dict) -> None:
    """Keep the answer for retries."""
    row.status_code, row.response_json = status_code, json.dumps(body, default=str)
    session.add(row)
    session.commit()


def bind_reference(session: Session, row: IdempotentRequest, reference: str) -> str:
    """The case reference this key's referral starts: ``reference`` if this request binds it first, else the one
    another replica bound (this transaction is rolled back, so the number it took is given back). One conditional
    UPDATE decides, so a key never starts two cases; the caller commits."""
    bound = session.exec(update(IdempotentRequest)
                         .where(IdempotentRequest.user_id == row.user_id, IdempotentRequest.key == row.key,
                                IdempotentRequest.case_reference.is_(None))
                         .values(case_reference=reference))
    if bound.rowcount == 1:
        set_committed_value(row, "case_reference", reference)
        return reference
    session.rollback()
    session.refresh(row)
    return row.case_reference
