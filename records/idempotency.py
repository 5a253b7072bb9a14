"""Idempotency-Key: a client that retries a request (timeout, crash, lost reply) gets the first answer and the
request takes effect once. The key is per user; the first attempt's row is written before anything happens,
so a retry after a crash resumes it (case starts and workflow updates are themselves deduplicated by id)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

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
    """Find or write the row for this key (committed at once, so a crash later still leaves it)."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    row = session.get(IdempotentRequest, (user_id, key))
    if row is None:
        row = IdempotentRequest(user_id=user_id, key=key, fingerprint=print_)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise Conflict("A request with this Idempotency-Key is in progress; retry shortly") from None
        return Claim(row, finished=False)
    if row.fingerprint != print_:
        raise InvalidInput("This Idempotency-Key was already used for a different request")
    return Claim(row, finished=row.status_code is not None)


def remember(session: Session, row: IdempotentRequest, status_code: int, body: dict) -> None:
    """Keep the answer for retries."""
    row.status_code, row.response_json = status_code, json.dumps(body, default=str)
    session.add(row)
    session.commit()
