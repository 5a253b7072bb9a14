"""A late case is one grouped escalation (its missed deadlines listed), and each person hears of a missed deadline
once: one e-mail per missed milestone of a case, ever, and no daily digest repeating it. Real workflows on the
time-skipping server write the escalations; the grouping reads what they wrote."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from activities.case_step import CaseStepActivities
from engine.calendar import WorkingDayCalendar
from engine.models import CaseStep, TaskSpec
from records.codec import EncryptionCodec
from records.lateness import late_cases, milestone_of, missed_sentence
from records.models import OutboxMessage, Task, User
from service.platform.jobs import send_daily_digest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def lateness_emails(engine, reference: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.case_reference == reference,
                                                             OutboxMessage.key.startswith("lateness:"))))


async def test_a_late_case_is_one_escalation_and_each_miss_is_told_once(driver, case_env, engine, demo_passwords):
    await driver.to_sign_off()
    await driver.act("sign_off", "la", version=1, decision="approve")
    await case_env.sleep(timedelta(days=25))  # sign-off and the 15-day window both missed
    escalation_tasks = driver.tasks(kind="escalation")
    missed_keys = {milestone_of(task) for task in escalation_tasks}
    assert len(escalation_tasks) == 2 * len(missed_keys) >= 4, "the workflow escalates each miss to two roles"

    today = await driver.today()
    with Session(engine) as session:
        grouped = late_cases(session, today=today, calendar=WorkingDayCalendar())
        executives = session.exec(select(User).where(User.role == "executive")).all()
    assert [case.reference for case in grouped] == [driver.reference], "one entry for the case"
    case = grouped[0]
    assert {m.milestone for m in case.missed} == missed_keys, "each missed deadline listed once"
    titles = [m.title for m in case.missed]
    assert "Rapid review submitted to the National Panel" in titles
    sign_off = next(m for m in case.missed if m.milestone.endswith(":sign_off"))
    assert sorted(sign_off.waiting_on) == ["icb", "police"], "the seats still to sign, as codes for the wording"
    assert all(m.due is not None and m.working_days_left < 0 for m in case.missed)
    assert any(m.statutory for m in case.missed) and not all(m.statutory for m in case.missed)
    said = missed_sentence(next(t for t in escalation_tasks if milestone_of(t) == sign_off.milestone))
    assert said.startswith("Missed: Executive sign-off") and said.endswith(
        "Waiting on: Integrated Care Board and Police.") and not re.search(r"\d{4}-\d{2}-\d{2}", said)

    emails = lateness_emails(engine, driver.reference)
    per_person_and_miss = Counter((m.to_user_id, m.key.split(":user:")[0]) for m in emails)
    assert set(per_person_and_miss.values()) == {1}, "nobody hears of one missed deadline twice"
    assert len(per_person_and_miss) == len(missed_keys) * (1 + len(executives)), "business unit and Executive"
    assert all(driver.reference in m.subject and "Julie" not in m.subject + m.body for m in emails)
    assert not any(re.search(r"\d{4}-\d{2}-\d{2}", m.subject + m.body) for m in emails), "dates in words"

    # The same deadline escalated again in another step (a deadline set anew and missed again): no second e-mail.
    again = escalation_tasks[0]
    activities = CaseStepActivities(engine, "https://rr.example.org", EncryptionCodec(b"k" * 32),
                                    audit_key=b"test-only-audit-key")
    activities.apply_step(CaseStep(key=f"{driver.reference}:9999:escalation:again", case_reference=driver.reference,
                                   at=escalation_tasks[0].created_at, tasks=[TaskSpec(
                                       key=again.key, kind="escalation", title=again.title,
                                       description=again.description, assignee_role=again.assignee_role,
                                       due=again.due_date)]))
    assert len(lateness_emails(engine, driver.reference)) == len(emails)

    # The daily digest lists things to do; the escalations are not repeated there every morning.
    send_daily_digest(engine, "https://rr.example.org", today)
    with Session(engine) as session:
        digests = session.exec(select(OutboxMessage).where(OutboxMessage.key.startswith("digest:"))).all()
        open_escalations = session.exec(select(Task).where(Task.kind == "escalation", Task.status == "open")).all()
    assert open_escalations, "the escalations are still open (the milestones are not met)"
    assert all("Escalation:" not in message.body for message in digests)
