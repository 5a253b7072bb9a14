"""E-mail through a transactional outbox: steps write messages, a sender delivers them with retries, by SMTP or
by GOV.UK Notify (NOTIFY_API_KEY set), whose delivery receipts are then recorded on each message.

Nothing identifying leaves in an e-mail: subject and body carry the case reference, what is asked
and a link to the service. In dev (no SMTP_HOST, no NOTIFY_API_KEY) nothing leaves the machine; the outbox is
readable in the service.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import requests
from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from records.db import session_scope
from records.models import OutboxMessage, Task, User
from records.vocabulary import OutboxStatus
from service.lateness import lateness_email, lateness_email_key
from service.settings import Settings
from workflows.vocabulary import TaskKind

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def recipients_for(session: Session, task: Task) -> list[User]:
    """The active users a task is for: its named person, else everyone with its role (and agency/seat)."""
    query = select(User).where(User.is_active == True)  # noqa: E712 - SQL expression
    if task.assignee_user_id is not None:
        query = query.where(User.id == task.assignee_user_id)
    else:
        query = query.where(User.role == task.assignee_role)
        if task.assignee_agency:
            query = query.where(User.agency == task.assignee_agency)
        if task.assignee_seat:
            query = query.where(User.seat == task.assignee_seat)
    return list(session.exec(query.order_by(User.id)))


def task_email(task: Task, public_url: str) -> tuple[str, str]:
    """Subject and body for a task: reference, the task's title, due date and a link. No case content."""
    due = f" (due {task.due_date.isoformat()})" if task.due_date else ""
    subject = f"[OFFICIAL-SENSITIVE] {task.case_reference}: {task.title}{due}"
    body = (
        f"Case {task.case_reference} has a task for you: {task.title}{due}.\n\n"
        f"Open it in the Rapid Review service: {public_url.rstrip('/')}/cases/{task.case_reference}\n\n"
        "Details are in the service only. Do not reply to this message."
    )
    return subject, body


def enqueue(session: Session, *, key: str, to: User, subject: str, body: str, case_reference: str | None,
            ics: str | None = None) -> None:
    """Add a message unless one with this key exists (a retried step sends nothing twice)."""
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.key == key)).first() is not None:
        return
    session.add(OutboxMessage(key=key, case_reference=case_reference, to_address=to.email, to_user_id=to.id,
                              subject=subject, body=body, ics=ics))


def enqueue_task_emails(session: Session, task: Task, public_url: str) -> None:
    """The e-mails a new task sends; an escalation tells each person of a missed milestone once (lateness.py)."""
    if task.kind == TaskKind.escalation:
        subject, body = lateness_email(task, public_url)
        keyed = lambda user: lateness_email_key(task, user)  # noqa: E731
    else:
        subject, body = task_email(task, public_url)
        keyed = lambda user: f"task:{task.key}:user:{user.id}"  # noqa: E731
    for user in recipients_for(session, task):
        enqueue(session, key=keyed(user), to=user, subject=subject, body=body, case_reference=task.case_reference)


def _claim(engine: Engine, now: datetime, limit: int) -> list[OutboxMessage]:
    """Take due messages for this sender; the conditional UPDATE lets only one sender have each."""
    claimed = []
    with session_scope(engine) as session:
        due = session.exec(
            select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.pending,
                                           OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(limit)
        ).all()
    for message_id in due:
        with session_scope(engine) as session:
            result = session.exec(update(OutboxMessage).where(OutboxMessage.id == message_id,
                                                              OutboxMessage.status == OutboxStatus.pending)
                                  .values(status=OutboxStatus.sending, next_attempt_at=now))
            if result.rowcount == 1:
                claimed.append(session.get(OutboxMessage, message_id))
    return claimed


def invitation_url(public_url: str, case_reference: str) -> str:
    """Where an invitee downloads a case's panel invitation (.ics) when it cannot travel as an attachment."""
    return f"{public_url.rstrip('/')}/cases/{case_reference}/invitation.ics"


def _mime(message: OutboxMessage, sender: str) -> EmailMessage:
    mime = EmailMessage()
    mime["From"], mime["To"], mime["Subject"] = sender, message.to_address, message.subject
    mime.set_content(message.body + ("\n\nThe calendar invitation is attached." if message.ics else ""))
    if message.ics:
        mime.add_attachment(message.ics.encode(), maintype="text", subtype="calendar",
                            filename="invitation.ics", params={"method": "REQUEST"})
    return mime


class SmtpChannel:
    """Deliver by SMTP; a panel invitation carries its .ics as an attachment."""

    errors = (aiosmtplib.SMTPException, OSError)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: OutboxMessage) -> dict:
        settings = self.settings
        await aiosmtplib.send(
            _mime(message, settings.smtp_from), hostname=settings.smtp_host, port=settings.smtp_port,
            username=settings.smtp_username, password=settings.smtp_password,
            start_tls=settings.smtp_starttls, timeout=30,
        )
        return {}


class NotifyChannel:
    """Deliver by GOV.UK Notify: one e-mail template (subject ((subject)), body ((body))); Notify takes no
    calendar attachment, so a panel invitation links to its .ics in the service instead. The Notify id is kept
    on the message, and the receipts read back later (refresh_receipts) record whether it was delivered."""

    errors = (APIError, requests.RequestException)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = NotificationsAPIClient(settings.notify_api_key, base_url=settings.notify_base_url, timeout=30)

    def body(self, message: OutboxMessage) -> str:
        if not message.ics:
            return message.body
        link = invitation_url(self.settings.rapid_review_public_url, message.case_reference or "")
        return f"{message.body}\n\nAdd the panel to your calendar (sign in first): {link}"

    async def send(self, message: OutboxMessage) -> dict:
        answer = await asyncio.to_thread(
            self.client.send_email_notification, email_address=message.to_address,
            template_id=self.settings.notify_email_template_id,
            personalisation={"subject": message.subject, "body": self.body(message)},
            reference=f"outbox-{message.id}")
        return {"provider_reference": str(answer["id"]), "delivery_status": "created"}


def channel_for(settings: Settings) -> SmtpChannel | NotifyChannel | None:
    """Notify when its API key is set, else SMTP when a host is, else none (dev: mail stays in the outbox)."""
    if settings.notify_api_key:
        return NotifyChannel(settings)
    if settings.smtp_host:
        return SmtpChannel(settings)
    return None


async def deliver_pending(engine: Engine, settings: Settings, limit: int = 50) -> dict[str, int]:
    """Send what is due; a failure is retried later with backoff, up to MAX_ATTEMPTS. The database work
    runs off the event loop, which also serves the API."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    channel = channel_for(settings)
    if channel is None:
        return counts  # dev: messages stay in the outbox for people to read
    now = datetime.now(UTC)
    for message in await asyncio.to_thread(_claim, engine, now, limit):
        try:
            receipt = await channel.send(message)
        except channel.errors as exc:
            attempts = message.attempts + 1
            status = OutboxStatus.failed if attempts >= MAX_ATTEMPTS else OutboxStatus.pending
            counts["failed" if status == OutboxStatus.failed else "retry"] += 1
            await asyncio.to_thread(_record_attempt, engine, message.id, status=status, attempts=attempts,
                                    last_error=f"{type(exc).__name__}: {exc}"[:500],
                                    next_attempt_at=now + timedelta(seconds=min(30 * 2**attempts, 3600)))
            log.warning("outbox message %s not delivered (attempt %s)", message.id, attempts)
            continue
        counts["sent"] += 1
        await asyncio.to_thread(_record_attempt, engine, message.id, status=OutboxStatus.sent,
                                attempts=message.attempts + 1, sent_at=datetime.now(UTC), last_error=None, **receipt)
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
            await asyncio.to_thread(_record_attempt, engine, message_id, delivery_status=str(answer["status"])[:40])
            changed += 1
    return changed


def _record_attempt(engine: Engine, message_id: int, **values) -> None:
    with session_scope(engine) as session:
        session.exec(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))


def release_stuck(engine: Engine, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Messages left 'sending' by a sender that died go back to pending."""
    with session_scope(engine) as session:
        result = session.exec(update(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.sending,
            OutboxMessage.next_attempt_at < datetime.now(UTC) - older_than,
        ).values(status=OutboxStatus.pending))
        return result.rowcount or 0
