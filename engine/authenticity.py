"""Only the service speaks to a case: every start, action and progress signal carries a seal.

A seal is an HMAC-SHA256, under a key only the API and the worker hold, over the workflow id, the message's
name, its message id (the update id) and every field of the message (the actor included). Someone who can
reach the Temporal server but not the key cannot start a case, take an action or move a review, however
the payload is encoded; a captured message replayed to another case, under another update id or as
another action fails too.

The keys are derived from the payload encryption keys (current and old ones, so a case sealed before a
key rotation still verifies on replay) and handed to this module by the worker and the API at start-up
(``use_keys``). They never travel in a payload, so no history holds them. The module is passed through
the workflow sandbox, so workflows see the keys the worker set. Update validators do not run on replay;
the start and signal checks do, and stay deterministic because a key once used stays in the list.
"""

from __future__ import annotations

import hashlib
import hmac
import json

_KEYS: list[bytes] = []


def seal_key(encryption_key: bytes) -> bytes:
    """The sealing key belonging to a payload encryption key (a separate key: HMAC never reuses AES's)."""
    return hmac.new(encryption_key, b"rapid-review:seal:v1", hashlib.sha256).digest()


def use_keys(encryption_keys: list[bytes]) -> None:
    """Seal with the first key; accept any of them (the current key, then the ones rotated out)."""
    _KEYS[:] = [seal_key(key) for key in encryption_keys]


def _message(workflow_id: str, name: str, message_id: str, fields: dict) -> bytes:
    body = {key: value for key, value in fields.items() if key != "seal"}
    return json.dumps([workflow_id, name, message_id, body], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str).encode()


def seal(workflow_id: str, name: str, message_id: str, fields: dict) -> str:
    if not _KEYS:
        raise RuntimeError("no sealing key: the service and the worker call use_keys() at start-up")
    return hmac.new(_KEYS[0], _message(workflow_id, name, message_id, fields), hashlib.sha256).hexdigest()


def is_sealed(workflow_id: str, name: str, message_id: str, fields: dict) -> bool:
    """True if ``fields["seal"]`` was made by a holder of one of the keys for exactly this message."""
    given = fields.get("seal")
    if not isinstance(given, str) or not _KEYS:
        return False
    message = _message(workflow_id, name, message_id, fields)
    return any(hmac.compare_digest(given, hmac.new(key, message, hashlib.sha256).hexdigest()) for key in _KEYS)


def sealed(workflow_id: str, name: str, message_id: str, message):
    """The message (a pydantic model) with its seal set, ready to send; used by the service and the tests."""
    message.seal = seal(workflow_id, name, message_id, message.model_dump(mode="json"))
    return message
