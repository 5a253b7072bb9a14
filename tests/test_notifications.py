"""Tasks and e-mails from a workflow step: once per step, delivered through the outbox with retries,
and never carrying the child's pseudonym or the case's content."""

from datetime import UTC, date, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlmodel import Session, select

from activities.case_step import CaseStepActivities
from engine.models import AuditEntry, CaseSnapshot, CaseStep, TaskSpec
from records.codec import EncryptionCodec
from records.models import AuditEvent, CaseRecord, OutboxMessage, Task
from records.tasks import open_task
from service.platform.outbox import deliver_pending
from service.platform.runner import free_port

CODEC = EncryptionCodec(b"k" * 32)
AUDIT_KEY = b"test-only-audit-key"
PSEUDONYM, SUMMARY = "Pseudonym-Julie", "Infant found unresponsive after co-sleeping"


def step(key: str = "RR-9:1:convene_panel") -> CaseStep:
    return CaseStep(
        key=key, case_reference="RR-9", at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        snapshot=CaseSnapshot(
            reference="RR-9", pseudonym=PSEUDONYM, stage="panel_preparation", opened_on=date(2026, 11, 20),
            awareness_date=date(2026, 11, 19), notified_on=date(2026, 11, 20), rapid_review_due=date(2026, 12, 11),
            next_deadline_title="Agency information returns", next_deadline_due=date(2026, 12, 1),
            next_deadline_rule="rule", late=False, escalated=False, recommendation=None, decision_sheet_version=0,
            invited_agencies=["education"], submitted_on=None, practice_review_stage=None, closed_reason=None,
            outcome=None,
        ),
        audit=AuditEntry(actor_id=1, actor_role="business_unit", action="convene_panel", detail={"stage": "x"}),
        tasks=[TaskSpec(key="RR-9:information_return:education", kind="information_return",
                        title="Submit your agency's information return",
                        description=f"About {PSEUDONYM}: {SUMMARY}", assignee_role="agency_member",
                        assignee_agency="education", due=date(2026, 12, 1), action="submit_information_return")],
    )


def test_a_step_applied_twice_takes_effect_once(engine, demo_passwords):
    activities = CaseStepActivities(engine, "https://rapid-review.example.org", CODEC, audit_key=AUDIT_KEY)
    assert activities.apply_step(step())[0] is True
    assert activities.apply_step(step())[0] is False, "the retry finds the step applied"
    with Session(engine) as session:
        assert len(session.exec(select(Task)).all()) == 1
        assert len(session.exec(select(AuditEvent).where(AuditEvent.case_reference == "RR-9")).all()) == 1
        assert session.get(CaseRecord, "RR-9").stage == "panel_preparation"
        messages = session.exec(select(OutboxMessage)).all()
    assert [m.to_address for m in messages] == ["agency.education@example.org"], "only the invited agency"


def test_a_task_opened_again_by_a_later_step_is_not_opened_or_mailed_twice(engine, demo_passwords):
    """A task's key already in the database: the later step opens nothing and queues no second e-mail, and says
    so (on PostgreSQL too, whose driver counts a row the conflict skipped differently)."""
    activities = CaseStepActivities(engine, "https://rapid-review.example.org", CODEC, audit_key=AUDIT_KEY)
    assert activities.apply_step(step("RR-9:1:convene_panel"))[0] is True
    assert activities.apply_step(step("RR-9:2:convene_panel_again"))[0] is True
    with Session(engine) as session:
        assert len(session.exec(select(Task)).all()) == 1
        assert len(session.exec(select(OutboxMessage)).all()) == 1
        assert open_task(session, step().tasks[0], "RR-9") is None, "it existed"
        assert open_task(session, step().tasks[0].model_copy(update={"key": "RR-9:other"}), "RR-9") is not None


def test_emails_carry_no_identifying_content(engine, demo_passwords):
    CaseStepActivities(engine, "https://rapid-review.example.org", CODEC, audit_key=AUDIT_KEY).apply_step(step())
    with Session(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
    for text in (message.subject, message.body):
        assert PSEUDONYM not in text and SUMMARY not in text
    assert "RR-9" in message.subject and "OFFICIAL-SENSITIVE" in message.subject
    assert "https://rapid-review.example.org/cases/RR-9" in message.body
    # The due date in words, as people read it (docs/content-style.md), never the machine's 2026-12-01.
    assert "(due 1 December 2026)" in message.subject and "(due 1 December 2026)." in message.body
    assert "2026-12-01" not in message.subject + message.body


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 OK"


async def test_outbox_retries_after_smtp_failure_and_delivers_once(engine, demo_passwords, settings):
    CaseStepActivities(engine, "https://rapid-review.example.org", CODEC, audit_key=AUDIT_KEY).apply_step(step())
    port = free_port()
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False})

    assert await deliver_pending(engine, smtp) == {"sent": 0, "retry": 1, "failed": 0}  # no server yet
    with Session(engine) as session:
        message = session.exec(select(OutboxMessage)).one()
    assert message.status == "pending" and message.attempts == 1 and "Error" in message.last_error
    assert await deliver_pending(engine, smtp) == {"sent": 0, "retry": 0, "failed": 0}, "backs off first"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with Session(engine) as session:  # the back-off has passed
            session.exec(update(OutboxMessage).values(next_attempt_at=datetime.now(UTC)))
            session.commit()
        assert await deliver_pending(engine, smtp) == {"sent": 1, "retry": 0, "failed": 0}
        assert await deliver_pending(engine, smtp) == {"sent": 0, "retry": 0, "failed": 0}
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert inbox.messages[0].rcpt_tos == ["agency.education@example.org"]
    assert PSEUDONYM.encode() not in inbox.messages[0].content
    assert b"due 1 December 2026" in inbox.messages[0].content, "the delivered e-mail says its date in words"
    with Session(engine) as session:
        sent = session.exec(select(OutboxMessage)).one()
    assert sent.status == "sent" and sent.attempts == 2 and sent.sent_at is not None


def test_dev_keeps_mail_in_the_outbox(engine, demo_passwords, settings):
    import asyncio

    CaseStepActivities(engine, "http://127.0.0.1:8000", CODEC, audit_key=AUDIT_KEY).apply_step(step())
    assert settings.smtp_host is None
    assert asyncio.run(deliver_pending(engine, settings))["sent"] == 0
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage)).one().status == "pending"


@pytest.mark.parametrize(("due", "today", "expected"), [
    (date(2026, 11, 27), date(2026, 11, 25), "due_soon"),
    (date(2026, 11, 30), date(2026, 11, 25), "on_track"),   # Mon: 3 working days away
    (date(2026, 12, 29), date(2026, 12, 24), "due_soon"),   # over Christmas: 1 working day
    (date(2026, 11, 20), date(2026, 11, 23), "overdue"),
])
def test_task_urgency_in_working_days(due, today, expected):
    from engine.calendar import WorkingDayCalendar
    from records.tasks import urgency

    task = Task(key="k", case_reference="RR", kind="k", title="t", description="d", assignee_role="csc_lead",
                due_date=due)
    assert urgency(task, today, WorkingDayCalendar()) == expected


def test_outbox_is_readable_by_admins_only(engine, api_client, sign_in):
    CaseStepActivities(engine, "http://127.0.0.1:8000", CODEC, audit_key=AUDIT_KEY).apply_step(step())
    response = api_client.get("/api/outbox", headers=sign_in("admin"))
    assert response.status_code == 200
    [message] = response.json()
    assert message["to_address"] == "agency.education@example.org" and message["status"] == "pending"
    assert api_client.get("/api/outbox", headers=sign_in("panel.chair")).status_code == 403
    assert api_client.get("/api/outbox?status=bogus", headers=sign_in("admin")).status_code == 422
