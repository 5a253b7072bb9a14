"""A second factor for local accounts: TOTP (RFC 6238, pyotp) from an authenticator app, and single-use recovery
codes for a lost one. Required (RAPID_REVIEW_REQUIRE_MFA) for every role that acts on or reads case content;
an account that has enrolled always needs its code, whatever the setting. People who sign in with their own
organisation (OIDC) get their second factor there.

The TOTP secret must be read back to check a code, so it cannot be hashed: it is encrypted with AES-GCM under a
key derived from SECRET_KEY (a copy of the database alone cannot mint codes). Recovery codes are random and
long, so a SHA-256 of each is enough."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

import pyotp
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlmodel import Session, select

from records.models import RecoveryCode, User, UserMfa, utcnow
from service.accounts import record_account_change
from service.auth import end_all_sessions
from service.settings import Settings
from workflows.vocabulary import CASE_READERS

RECOVERY_CODES = 10
STEP_SECONDS = 30


def mfa_required(settings: Settings, user: User) -> bool:
    return settings.require_mfa and user.role in {str(role) for role in CASE_READERS}


def _cipher(secret_key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(f"totp-secret:{secret_key}".encode()).digest())


def _seal(secret_key: str, user_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _cipher(secret_key).encrypt(nonce, secret.encode(), str(user_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _open(secret_key: str, user_id: int, sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return _cipher(secret_key).decrypt(raw[:12], raw[12:], str(user_id).encode()).decode()


def enrolled(session: Session, user_id: int) -> bool:
    row = session.get(UserMfa, user_id)
    return row is not None and row.confirmed_at is not None


def enrolment_secret(session: Session, *, user: User, secret_key: str) -> str:
    """The secret being enrolled (a new one unless an unconfirmed one is waiting). The caller commits."""
    row = session.get(UserMfa, user.id)
    if row is not None and row.confirmed_at is None:
        return _open(secret_key, user.id, row.secret_encrypted)
    secret = pyotp.random_base32()
    session.merge(UserMfa(user_id=user.id, secret_encrypted=_seal(secret_key, user.id, secret)))
    return secret


def provisioning_uri(secret: str, user: User, partnership: str) -> str:
    """The otpauth:// address an authenticator app takes (typed in, since we show no QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=partnership)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").replace(" ", "").encode()).hexdigest()


def _totp_step(secret: str, code: str, last_step: int) -> int | None:
    """The 30-second step this code belongs to (this one, or one either side for clock drift), when it is later
    than the last one used: each code works once."""
    now = int(time.time())
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        at = now + offset * STEP_SECONDS
        step = at // STEP_SECONDS
        if step > last_step and secrets.compare_digest(totp.at(at), code.strip()):
            return step
    return None


def confirm_enrolment(session: Session, *, user: User, code: str, secret_key: str, audit_key: bytes,
                      request_id: str | None = None) -> list[str] | None:
    """Confirm the waiting secret with a code from the app; returns fresh recovery codes (shown once) or None
    when the code is wrong. The caller commits."""
    row = session.get(UserMfa, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    step = _totp_step(_open(secret_key, user.id, row.secret_encrypted), code, row.last_step)
    if step is None:
        return None
    row.confirmed_at, row.last_step = utcnow(), step
    session.add(row)
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    for code_text in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(code_text)))
    record_account_change(session, audit_key=audit_key, by=user, action="mfa_enrolled", user=user,
                          request_id=request_id)
    return codes


def check_second_factor(session: Session, *, user: User, code: str, secret_key: str) -> str | None:
    """How the code was good ("totp" or "recovery_code", which is then used up), or None. The caller commits."""
    row = session.get(UserMfa, user.id)
    if row is None or row.confirmed_at is None or not code.strip() or len(code) > 40:
        return None
    step = _totp_step(_open(secret_key, user.id, row.secret_encrypted), code, row.last_step)
    if step is not None:
        row.last_step = step
        session.add(row)
        return "totp"
    recovery = session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                       RecoveryCode.code_hash == _code_hash(code),
                                                       RecoveryCode.used_at.is_(None))).first()
    if recovery is None:
        return None
    recovery.used_at = utcnow()
    session.add(recovery)
    return "recovery_code"


def reset_mfa(session: Session, *, user: User, by: User | None, audit_key: bytes) -> None:
    """Remove the authenticator and recovery codes (a lost phone); every session ends, and the person enrols
    again at their next sign-in. The caller commits."""
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.exec(delete(UserMfa).where(UserMfa.user_id == user.id))
    ended = end_all_sessions(session, user_id=user.id)
    record_account_change(session, audit_key=audit_key, by=by, action="mfa_reset", user=user,
                          detail={"sessions_ended": ended})
