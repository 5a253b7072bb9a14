"""The engine's payload codec: AES-256-GCM over each serialized payload, so the Temporal server and its database
never hold readable case data. The API, the worker's activities (which decode a history to archive it) and the
CLI share it; service/platform/temporal.py builds the data converter around it. It only ever grows: new key ids are
decodable alongside old ones.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
# What an unencrypted payload becomes on its way in: no converter reads this encoding, so an update carrying
# it is rejected before its validator, a signal is dropped and a start fails, with nothing recorded.
REFUSED = b"binary/refused-unencrypted"
NONCE_BYTES = 12


class UnencryptedPayload(ValueError):
    """A payload that did not come from a holder of the key: the service never sends one."""


def key_id(key: bytes) -> str:
    """A short, non-secret name for a key, stored with each payload so keys can be rotated."""
    return hashlib.sha256(b"rapid-review-key-id:" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over the whole serialized payload (metadata included)."""

    def __init__(self, key: bytes, old_keys: Iterable[bytes] = ()) -> None:
        self._key_id = key_id(key)
        self._encryptor = AESGCM(key)
        self._decryptors = {key_id(k): AESGCM(k) for k in (key, *old_keys)}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt; an unencrypted payload (someone speaking to the engine directly) is refused, not read."""
        return [self.decrypt(p) if p.metadata.get("encoding") == ENCODING else Payload(metadata={"encoding": REFUSED})
                for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._encryptor.encrypt(nonce, payload.SerializeToString(), self._key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": self._key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            raise UnencryptedPayload("the payload is not encrypted: it was not sent by the Rapid Review service")
        kid = payload.metadata.get("encryption-key-id", b"").decode()
        decryptor = self._decryptors.get(kid)
        if decryptor is None:
            raise ValueError(f"payload was encrypted with unknown key id {kid!r}")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        return Payload.FromString(decryptor.decrypt(nonce, sealed, kid.encode()))
