"""E-mail through a transactional outbox: steps write messages (records/outbox.py), a sender (this module) delivers
them with retries, by SMTP or by GOV.UK Notify (NOTIFY_API_KEY set), whose delivery receipts are then recorded on
each message. Every API replica runs a sender; each message is held by one of them at a time under a lease
(deliver_pending says what remains at least once).

Nothing identifying leaves in an e-mail: subject and body carry the case reference, what is asked
and a link to the service. In dev (no SMTP_HOST, no NOTIFY_API_KEY) nothing leaves the machine; the outbox is
readable in the service.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import requests
from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import Engine, and_, case, func, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from records.db import session_scope
from records.models import OutboxMessage
from records.outbox import invitation_url
from records.vocabulary import OutboxStatus
from service.platform.settings import Settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def _mime(message: OutboxMessage, sender: str) -> EmailMessage:
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"] = sender, message.to_address, message.subject
    mime["Message-ID"] = message.message_id  # the same on every attempt: a second copy is recognisably the first
    mime.set_content(message.body + ("\n\nThe calendar invitation is attached." if message.ics else ""))
    if message.ics:
        mime.add_attachment(message.ics.encode(), maintype="text", subtype="calendar",
                            filename="invitation.ics", params={"method": "REQUEST"})
    return mime


def error_class(exc: BaseException) -> str:
    """What went wrong, for the outbox page: the error's class and an SMTP reply code, never its text (a relay's
    refusal repeats the recipient's address)."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' {code}' if isinstance(code, int) else ''}"


class SmtpChannel:
    """Deliver by SMTP; a panel invitation carries its .ics as an attachment. Every step of the conversation and
    the whole of it are bounded by SMTP_TIMEOUT_SECONDS."""

    errors = (aiosmtplib.SMTPException, OSError, TimeoutError)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.domain = settings.smtp_from.rpartition("@")[2] or "localhost"

    def message_id(self, message_id: int, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return f"<outbox-{message_id}.{digest}@{self.domain}>"

    async def send(self, message: OutboxMessage) -> dict:
        settings = self.settings
        async with asyncio.timeout(settings.smtp_timeout_seconds):
            await aiosmtplib.send(
                _mime(message, settings.smtp_from), hostname=settings.smtp_host, port=settings.smtp_port,
                username=settings.smtp_username, password=settings.smtp_password,
                start_tls=settings.smtp_starttls, timeout=settings.smtp_timeout_seconds,
            )
        return {}


class NotifyChannel:
    """Deliver by GOV.UK Notify: one e-mail template (subject ((subject)), body ((body))); Notify takes no
    calendar attachment, so a panel invitation links to its .ics in the service instead. The Notify id is kept
    on the message, and the receipts read back later (refresh_receipts) record whether it was delivered.

    Each message goes with the same reference on every attempt; before sending again after an attempt whose
    outcome is unknown (a timeout, a sender that died), Notify is asked whether it already has that reference,
    so a message Notify accepted is not sent twice."""

    errors = (APIError, requests.RequestException, TimeoutError)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = NotificationsAPIClient(settings.notify_api_key, base_url=settings.notify_base_url,
                                             timeout=settings.notify_timeout_seconds)

    @staticmethod
    def message_id(message_id: int, key: str) -> str:
        return f"outbox-{message_id}"

    def body(self, message: OutboxMessage) -> str:
        if not message.ics:
            return message.body
        link = invitation_url(self.settings.rapid_review_public_url, message.case_reference or "")
        return f"{message.body}\n\nAdd the panel to your calendar (sign in first): {link}"

    async def send(self, message: OutboxMessage) -> dict:
        async with asyncio.timeout(self.settings.notify_timeout_seconds * 2):  # the look-up, then the send
            if message.attempts > 1:
                known = await asyncio.to_thread(self.client.get_all_notifications, reference=message.message_id)
                if known.get("notifications"):
                    return {"provider_reference": str(known["notifications"][0]["id"]), "delivery_status": "created"}
            answer = await asyncio.to_thread(
                self.client.send_email_notification, email_address=message.to_address,
                template_id=self.settings.notify_email_template_id,
                personalisation={"subject": message.subject, "body": self.body(message)},
                reference=message.message_id)
        return {"provider_reference": str(answer["id"]), "delivery_status": "created"}


def channel_for(settings: Settings) -> SmtpChannel | NotifyChannel | None:
    """Notify when its API key is set, else SMTP when a host is, else none (dev: mail stays in the outbox)."""
    if settings.notify_api_key:
        return NotifyChannel(settings)
    if settings.smtp_host:
        return SmtpChannel(settings)
    return None


LEASE_ENDED = "LeaseEnded"  # last_error of an attempt whose sender stopped mid-send (killed, host lost)


def _claimable(now: datetime):
    """Due and waiting, or held by a sender whose lease has ended."""
    return or_(and_(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= now),
               and_(OutboxMessage.status == OutboxStatus.sending, OutboxMessage.lease_until < now,
                    OutboxMessage.attempts < MAX_ATTEMPTS))


def _claim_next(engine: Engine, lease: timedelta, message_id_for) -> OutboxMessage | None:
    """Take one message under a new lease, counting the attempt now (so an attempt whose sender dies is still
    counted). The conditional UPDATE lets only one sender have it."""
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        due = session.exec(select(OutboxMessage.id, OutboxMessage.key).where(_claimable(now))
                           .order_by(OutboxMessage.id).limit(10)).all()
    for message_id, key in due:
        with session_scope(engine) as session:
            result = session.exec(update(OutboxMessage).where(OutboxMessage.id == message_id, _claimable(now)).values(
                status=OutboxStatus.sending, lease_owner=uuid.uuid4().hex, lease_until=now + lease,
                attempts=OutboxMessage.attempts + 1, last_attempt_at=now,
                message_id=func.coalesce(OutboxMessage.message_id, message_id_for(message_id, key)),
                last_error=case((OutboxMessage.status == OutboxStatus.sending, LEASE_ENDED),
                                else_=OutboxMessage.last_error)))
            if result.rowcount == 1:
                return session.get(OutboxMessage, message_id)
    return None


def _while_leased(engine: Engine, message: OutboxMessage, **values) -> bool:
    """Write to a message only while this sender still holds its lease; False if another sender has it now."""
    with session_scope(engine) as session:
        result = session.exec(update(OutboxMessage).where(OutboxMessage.id == message.id,
                                                          OutboxMessage.status == OutboxStatus.sending,
                                                          OutboxMessage.lease_owner == message.lease_owner)
                              .values(**values))
        return result.rowcount == 1


async def _keep_lease(engine: Engine, message: OutboxMessage, lease: timedelta) -> None:
    """Renew the lease every third of its length; return only when it is lost: another sender holds it, or the
    database could not be reached to renew it before it ended."""
    held_until = message.lease_until
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        until = datetime.now(UTC) + lease
        try:
            if not await asyncio.to_thread(_while_leased, engine, message, lease_until=until):
                return
            held_until = until
        except SQLAlchemyError:
            if datetime.now(UTC) >= held_until:
                return


async def _send_leased(engine: Engine, channel, message: OutboxMessage, lease: timedelta) -> str:
    """Send one claimed message while its lease is renewed, and record the attempt's outcome. A lost lease (this
    process stalled past it and another sender took the message) stops the send if it can still be stopped."""
    send = asyncio.ensure_future(channel.send(message))
    keeper = asyncio.ensure_future(_keep_lease(engine, message, lease))
    try:
        await asyncio.wait((send, keeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        keeper.cancel()
        if not send.done():
            send.cancel()
        await asyncio.gather(send, keeper, return_exceptions=True)
    if send.cancelled():
        log.warning("outbox message %s: lease lost while sending; left to the sender that holds it", message.id)
        return "lost"
    if send.exception() is None:
        recorded = await asyncio.to_thread(_while_leased, engine, message, status=OutboxStatus.sent,
                                           sent_at=datetime.now(UTC), lease_owner=None,
                                           lease_until=None, **send.result())
        return "sent" if recorded else "lost"
    exc = send.exception()
    if not isinstance(exc, channel.errors):
        raise exc
    status = OutboxStatus.failed if message.attempts >= MAX_ATTEMPTS else OutboxStatus.pending
    backoff = timedelta(seconds=min(30 * 2**message.attempts, 3600))
    await asyncio.to_thread(_while_leased, engine, message, status=status, last_error=error_class(exc),
                            lease_owner=None, lease_until=None, next_attempt_at=datetime.now(UTC) + backoff)
    log.warning("outbox message %s not delivered (attempt %s, %s)", message.id, message.attempts, error_class(exc))
    return "failed" if status == OutboxStatus.failed else "retry"


async def deliver_pending(engine: Engine, settings: Settings, limit: int = 50) -> dict[str, int]:
    """Send what is due, one message at a time under a lease (see _send_leased); a failure is retried later with
    backoff, up to MAX_ATTEMPTS. Any number of senders (API replicas) can run this at once: a message is sent by
    the one holding its lease. The database work runs off the event loop, which also serves the API.

    What remains at least once: a sender that dies (or loses its lease, or times out) after the relay or Notify
    accepted a message but before the outbox recorded it leaves the message to be sent again once the lease ends.
    By SMTP the second copy carries the same Message-ID; Notify is asked for the message's reference first."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    channel = channel_for(settings)
    if channel is None:
        return counts  # dev: messages stay in the outbox for people to read
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    for _ in range(limit):
        message = await asyncio.to_thread(_claim_next, engine, lease, channel.message_id)
        if message is None:
            break
        outcome = await _send_leased(engine, channel, message, lease)
        if outcome in counts:
            counts[outcome] += 1
    if isinstance(channel, NotifyChannel):
        await refresh_receipts(engine, channel)
    return counts


FINAL_NOTIFY_STATUSES = frozenset({"delivered", "permanent-failure", "temporary-failure", "technical-failure"})


async def refresh_receipts(engine: Engine, channel: NotifyChannel, limit: int = 50) -> int:
    """Ask Notify how each message it accepted fared, until it says for good (delivered or a failure); returns
    how many receipts changed. A message Notify could not deliver stays 'sent' here with that receipt, for an
    admin to see on the outbox page."""
    with session_scope(engine) as session:
        waiting = session.exec(select(OutboxMessage.id, OutboxMessage.provider_reference, OutboxMessage.delivery_status)
                               .where(OutboxMessage.provider_reference.is_not(None),
                                      OutboxMessage.delivery_status.not_in(FINAL_NOTIFY_STATUSES))
                               .order_by(OutboxMessage.id).limit(limit)).all()
    changed = 0
    for message_id, reference, known in waiting:
        try:
            answer = await asyncio.to_thread(channel.client.get_notification_by_id, reference)
        except channel.errors as exc:
            log.warning("no receipt for outbox message %s yet (%s)", message_id, type(exc).__name__)
            continue
        if answer.get("status") and answer["status"] != known:
            await asyncio.to_thread(_record_receipt, engine, message_id, str(answer["status"])[:40])
            changed += 1
    return changed


def _record_receipt(engine: Engine, message_id: int, delivery_status: str) -> None:
    with session_scope(engine) as session:
        session.exec(update(OutboxMessage).where(OutboxMessage.id == message_id)
                     .values(delivery_status=delivery_status))


def give_up_abandoned(engine: Engine) -> int:
    """Messages whose every attempt ended with its sender (MAX_ATTEMPTS leases ended mid-send) are failed, for an
    admin to see, instead of waiting for a sender for ever."""
    with session_scope(engine) as session:
        result = session.exec(update(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.sending, OutboxMessage.lease_until < datetime.now(UTC),
            OutboxMessage.attempts >= MAX_ATTEMPTS,
        ).values(status=OutboxStatus.failed, last_error=LEASE_ENDED, lease_owner=None, lease_until=None))
        return result.rowcount or 0
