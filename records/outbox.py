"""The outbox's writing half: the e-mails a step, a job or a request queues, in the same transaction as what they
tell of, keyed so that a retried step queues nothing twice. service/platform/outbox.py delivers them.

Nothing identifying leaves in an e-mail: subject and body carry the case reference, what is asked and a link to
the service.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from engine.vocabulary import TaskKind
from records import wording
from records.db import add_unless_present
from records.lateness import lateness_email, lateness_email_key
from records.models import OutboxMessage, Task, User


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
    """Subject and body for a task: reference, the task's title, due date (in words) and a link. No case content."""
    due = f" (due {wording.long_date(task.due_date)})" if task.due_date else ""
    title = wording.plain(task.title, as_sentence=False)
    subject = f"[OFFICIAL-SENSITIVE] {task.case_reference}: {title}{due}"
    body = (
        f"Case {task.case_reference} has a task for you: {title}{due}.\n\n"
        f"Open it in the Rapid Review service: {public_url.rstrip('/')}/cases/{task.case_reference}\n\n"
        "Details are in the service only. Do not reply to this message."
    )
    return subject, body


def referral_received_email(reference: str, received_on: date, public_url: str) -> tuple[str, str]:
    """The referrer's receipt: the reference, the day, what happens next and where to follow it. Nothing of the
    child (no pseudonym, no summary): an e-mail can reach more people than the service does."""
    subject = f"[OFFICIAL-SENSITIVE] {reference}: your referral was received"
    body = (
        f"Your referral was received on {wording.long_date(received_on)}. Its reference is {reference}: give it "
        "if you contact the business unit about it.\n\n"
        f"What happens next: {wording.REFERRAL_NEXT['waiting'].removesuffix(' Its decision will show here.')} "
        "You can see its status in My referrals.\n\n"
        f"Follow your referral in the Rapid Review service: {public_url.rstrip('/')}/referrals/{reference}\n\n"
        "Details are in the service only. Do not reply to this message."
    )
    return subject, body


def enqueue_referral_received(session: Session, *, referrer: User, reference: str, received_on: date,
                              public_url: str) -> None:
    """Tell the referrer her referral was received (once per case, however often the request is retried)."""
    subject, body = referral_received_email(reference, received_on, public_url)
    enqueue(session, key=f"referral-received:{reference}", to=referrer, subject=subject, body=body,
            case_reference=reference)


def enqueue(session: Session, *, key: str, to: User, subject: str, body: str, case_reference: str | None,
            ics: str | None = None) -> None:
    """Add a message unless one with this key exists (a retried step sends nothing twice)."""
    add_unless_present(session, OutboxMessage(key=key, case_reference=case_reference, to_address=to.email,
                                              to_user_id=to.id, subject=subject, body=body, ics=ics), "key")


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


def invitation_url(public_url: str, case_reference: str) -> str:
    """Where an invitee downloads a case's panel invitation (.ics) when it cannot travel as an attachment."""
    return f"{public_url.rstrip('/')}/cases/{case_reference}/invitation.ics"
