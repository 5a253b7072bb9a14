"""The worker stops mid-case; a new worker picks the case up from its history alone, issues what
falls due exactly once, and a further restart duplicates nothing.

(Timers falling due while no worker runs cannot be staged on the time-skipping test server: it holds
its clock while a workflow task waits for a worker. The fault-injection suite covers that on the
real-time server.)"""

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar
from records.models import AuditEvent
from service.platform.worker import build_worker
from tests.cases import CaseDriver


async def wait_for(condition, seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def clock_events(engine, reference: str) -> Counter:
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference,
                                                     AuditEvent.actor_role == "system"))
        return Counter((row.action, row.detail) for row in rows)


async def test_case_resumes_after_worker_outage_without_duplicates(case_env, settings, engine):
    queue = f"durable-{uuid.uuid4().hex[:8]}"
    worker_settings = settings.model_copy(update={"temporal_task_queue": queue})
    driver = CaseDriver(case_env, queue, engine)

    # No workflow cache, hence no sticky queue, so the next worker gets the case's tasks at once.
    async with build_worker(case_env.client, worker_settings, engine, max_cached_workflows=0):
        await driver.to_panel_preparation()
        panel_date = WorkingDayCalendar().add_working_days(await driver.today(), 6)  # returns reminded first
        await driver.act("convene_panel", "bu", panel_date=str(panel_date),
                         invited_agencies=["education", "community_health"])
        await driver.act("submit_information_return", "education", involvement="a", chronology="b", analysis="c")
        await driver.settled()
    assert driver.tasks(kind="reminder") == [] and driver.tasks(kind="escalation") == []

    # A new worker process picks the case up from its history alone (no cache) and runs its clock.
    async with build_worker(case_env.client, worker_settings, engine, max_cached_workflows=0):
        await case_env.sleep(timedelta(days=12))
        await wait_for(lambda: len([t for t in driver.tasks(kind="escalation") if "agency_returns" in t.key]) == 2)
        await driver.settled()
        state = await driver.state()
    assert state["late"] is True and state["stage"] == "panel_preparation"
    first = clock_events(engine, driver.reference)
    assert first, "the clock's reminders and escalations are in the audit trail"
    assert all(count == 1 for count in first.values()), f"issued more than once: {first}"
    returns_reminders = [t for t in driver.tasks(kind="reminder") if "agency_returns" in t.key]
    assert [t.assignee_agency for t in returns_reminders] == ["community_health"]

    # A second restart replays the whole history: nothing new is issued.
    async with build_worker(case_env.client, worker_settings, engine, max_cached_workflows=0):
        await driver.act("submit_information_return", "health", involvement="a", chronology="b", analysis="c",
                         delay_reason="Return delayed by staff sickness.")
        await driver.settled()
    assert clock_events(engine, driver.reference) == first
    keys = [t.key for t in driver.tasks()]
    assert len(keys) == len(set(keys))
    await case_env.client.get_workflow_handle(driver.reference).terminate("test finished")
