"""A second factor for local accounts: TOTP (RFC 6238, pyotp) from an authenticator app, and single-use recovery
codes for a lost one. Required (RAPID_REVIEW_REQUIRE_MFA) for every role that acts on or reads case content;
an account that has enrolled always needs its code, whatever the setting. People who sign in with their own
organisation (OIDC) get their second factor there.

The TOTP secret must be read back to check a code, so it cannot be hashed: it is encrypted with AES-GCM under a
key derived from SECRET_KEY (a copy of the database alone cannot mint codes). SECRET_KEY can rotate: secrets sealed
under a key listed in RAPID_REVIEW_OLD_SECRET_KEYS still open, and each is sealed again under the current key the
next time its owner signs in (`totp_keys`). A secret no key opens is a clear refusal (MfaUnreadable), never a 500.
Recovery codes are random and long, so a SHA-256 of each is enough."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlmodel import Session, select

from records.errors import NotPermitted
from records.models import RecoveryCode, User, UserMfa, utcnow
from service.accounts.auth import end_all_sessions
from service.accounts.roles import SECOND_FACTOR_ROLES
from service.accounts.users import record_account_change
from service.platform.settings import Settings

RECOVERY_CODES = 10
STEP_SECONDS = 30


def mfa_required(settings: Settings, user: User) -> bool:
    return settings.require_mfa and user.role in {str(role) for role in SECOND_FACTOR_ROLES}


def _cipher(secret_key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(f"totp-secret:{secret_key}".encode()).digest())


def _seal(secret_key: str, user_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _cipher(secret_key).encrypt(nonce, secret.encode(), str(user_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


class MfaUnreadable(NotPermitted):
    """The account's authenticator secret opens under none of the service's keys (SECRET_KEY changed and the old one
    is not in RAPID_REVIEW_OLD_SECRET_KEYS): the person cannot be let in until an admin resets their MFA."""


def totp_keys(settings: Settings) -> tuple[str, ...]:
    """The current SECRET_KEY first (it seals), then the rotated-out ones (they only open)."""
    return (settings.secret_key or "", *settings.old_secret_keys)


def _open(keys: str | tuple[str, ...], user_id: int, sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    for key in (keys,) if isinstance(keys, str) else keys:
        try:
            return _cipher(key).decrypt(raw[:12], raw[12:], str(user_id).encode()).decode()
        except InvalidTag:
            continue
    raise MfaUnreadable("Your authenticator cannot be checked since the service's keys changed: ask an "
                        "administrator to reset your second factor, then enrol again")


def _opened_and_resealed(row: UserMfa, keys: str | tuple[str, ...]) -> str:
    """The secret; sealed again under the current key if an old key opened it (the caller commits)."""
    secret = _open(keys, row.user_id, row.secret_encrypted)
    current = keys if isinstance(keys, str) else keys[0]
    try:
        _open(current, row.user_id, row.secret_encrypted)
    except MfaUnreadable:
        row.secret_encrypted = _seal(current, row.user_id, secret)
    return secret


def enrolled(session: Session, user_id: int) -> bool:
    row = session.get(UserMfa, user_id)
    return row is not None and row.confirmed_at is not None


def _enrolment_keys(keys: str | tuple[str, ...], bound_to: str) -> tuple[str, ...]:
    """The keys an unconfirmed secret is sealed under: the service's, bound to one pending sign-in (one browser that
    gave the password a few minutes ago), so no other sign-in, and nobody once it has lapsed, can read it back."""
    return tuple(f"{key}\x00enrolment:{bound_to}" for key in ((keys,) if isinstance(keys, str) else keys))


def enrolment_secret(session: Session, *, user: User, secret_key: str | tuple[str, ...], bound_to: str) -> str:
    """The secret being enrolled from this pending sign-in (``bound_to``): the one it was shown already, or a new
    one. A secret waiting from another sign-in, an attacker's who knew the password say, or from one that lapsed, is
    replaced, never shown: nobody can plant a secret for the owner to confirm. The caller commits."""
    keys = _enrolment_keys(secret_key, bound_to)
    row = session.get(UserMfa, user.id)
    if row is not None and row.confirmed_at is None:
        try:
            return _open(keys, user.id, row.secret_encrypted)
        except MfaUnreadable:
            pass
    secret = pyotp.random_base32()
    session.merge(UserMfa(user_id=user.id, secret_encrypted=_seal(keys[0], user.id, secret)))
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


def confirm_enrolment(session: Session, *, user: User, code: str, secret_key: str | tuple[str, ...], bound_to: str,
                      audit_key: bytes, request_id: str | None = None) -> list[str] | None:
    """Confirm the secret this pending sign-in was shown with a code from the app; returns fresh recovery codes
    (shown once) or None when the code is wrong or the secret is not this sign-in's. The caller commits."""
    row = session.get(UserMfa, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    try:
        secret = _open(_enrolment_keys(secret_key, bound_to), user.id, row.secret_encrypted)
    except MfaUnreadable:
        return None
    step = _totp_step(secret, code, row.last_step)
    if step is None:
        return None
    current = secret_key if isinstance(secret_key, str) else secret_key[0]
    row.secret_encrypted = _seal(current, user.id, secret)  # confirmed: sealed for every later sign-in
    row.confirmed_at, row.last_step = utcnow(), step
    session.add(row)
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    for code_text in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(code_text)))
    record_account_change(session, audit_key=audit_key, by=user, action="mfa_enrolled", user=user,
                          request_id=request_id)
    return codes


def check_second_factor(session: Session, *, user: User, code: str, secret_key: str | tuple[str, ...]) -> str | None:
    """How the code was good ("totp" or "recovery_code", which is then used up), or None. The caller commits."""
    row = session.get(UserMfa, user.id)
    if row is None or row.confirmed_at is None or not code.strip() or len(code) > 40:
        return None
    try:
        step = _totp_step(_opened_and_resealed(row, secret_key), code, row.last_step)
        unreadable = None
    except MfaUnreadable as refusal:  # a recovery code (hashed, under no key) still lets its owner in
        step, unreadable = None, refusal
    if step is not None:
        row.last_step = step
        session.add(row)
        return "totp"
    recovery = session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                       RecoveryCode.code_hash == _code_hash(code),
                                                       RecoveryCode.used_at.is_(None))).first()
    if recovery is None:
        if unreadable is not None:
            raise unreadable
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
