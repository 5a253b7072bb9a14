"""The statutory clocks as the statute has them, across the Christmas bank holidays of 2026.

- A partnership's closure days move its own milestones, never a statutory clock (notification, 15 days).
- The notification clock runs from the local authority's awareness, which the CSC lead can correct (with a
  reason, audited); the deadline follows.
- A deadline is met or missed by the day the thing happened, not the day it was recorded: a notification
  made in time but entered after its due date is met, needs no "reason for delay" and leaves no late flag.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar
from records.models import AuditEvent
from reviews.rapid_review.process_rules import ProcessRules

# Clock arithmetic in the workflow: SQLite only, as the database changes nothing here
# (both databases run in the records, read-model and audit tests).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BANK_HOLIDAYS = WorkingDayCalendar()


def deadline(state: dict, key: str) -> dict:
    return next(d for d in state["deadlines"] if d["key"] == key)


async def to_december_21(case_env) -> None:
    """Skip the test server's clock to noon on Monday 21 December 2026 (the 25th and the substitute 28th are
    holidays), whatever the time of day the test runs (a whole number of days plus 12 hours from an afternoon start
    landed on the 22nd)."""
    now = await case_env.get_current_time()
    await case_env.sleep(datetime(2026, 12, 21, 12, tzinfo=UTC) - now)


async def test_closure_days_move_milestones_never_statutory_clocks(driver, case_env):
    await to_december_21(case_env)
    closure = (date(2026, 12, 24), date(2026, 12, 29), date(2026, 12, 30))
    await driver.start(rules=ProcessRules(closure_days=closure), awareness_days_ago=0)
    state = await driver.state()
    aware = date.fromisoformat(state["awareness_date"])
    assert aware == date(2026, 12, 21)
    # 22, 23, 24, 29, 30 December: Christmas Day and the substitute Boxing Day are skipped, closure days are not.
    assert deadline(state, "notification")["due"] == "2026-12-30"
    assert deadline(state, "notification")["due"] == str(BANK_HOLIDAYS.add_working_days(aware, 5))
    await driver.act("accept_referral", "bu")
    await driver.agree_notification()
    state = await driver.act("record_notification", "csc", notified_on="2026-12-21", notification_reference="N-1")
    rapid_review = deadline(state, "rapid_review")["due"]
    assert rapid_review == str(BANK_HOLIDAYS.add_working_days(date(2026, 12, 21), 15)) == "2027-01-14"
    local = ProcessRules(closure_days=closure).calendar()
    assert deadline(state, "information_requests")["due"] == str(local.add_working_days(date(2026, 12, 21), 1))
    assert deadline(state, "agency_returns")["due"] == str(local.add_working_days(date(2026, 12, 21), 7)), \
        "a local milestone does move for closure days"
    assert deadline(state, "agency_returns")["due"] != str(BANK_HOLIDAYS.add_working_days(date(2026, 12, 21), 7))


async def test_the_csc_lead_corrects_the_awareness_date_and_the_clock_follows(driver, case_env, engine):
    await to_december_21(case_env)
    await driver.start(awareness_days_ago=0)
    assert deadline(await driver.state(), "notification")["due"] == "2026-12-30"
    refused = await driver.rejected("correct_awareness_date", "bu", awareness_date="2026-12-20", reason="x")
    assert "may not take 'correct_awareness_date'" in refused
    state = await driver.act("correct_awareness_date", "csc", awareness_date="2026-12-20",
                             reason="The duty team knew on Sunday 20th; the referral gave the day it was typed.")
    assert state["awareness_date"] == "2026-12-20"
    assert deadline(state, "notification")["due"] == "2026-12-29", "Sunday 20th + 5 working days over Christmas"
    assert state["awareness_corrections"][0]["reason"].startswith("The duty team knew")
    with Session(engine) as session:
        row = session.exec(select(AuditEvent).where(AuditEvent.case_reference == driver.reference,
                                                    AuditEvent.action == "correct_awareness_date")).one()
    assert row.actor_role == "csc_lead" and "2026-12-20" in row.detail


async def test_a_notification_made_in_time_but_recorded_late_is_met_not_missed(driver, case_env):
    await to_december_21(case_env)
    await driver.start(awareness_days_ago=0)
    await driver.act("accept_referral", "bu")
    await driver.agree_notification()
    await case_env.sleep(timedelta(days=10))  # past the due date (30 December): the clock escalates
    state = await driver.state()
    assert deadline(state, "notification")["status"] == "missed" and state["late"] is True
    # Notified on the 29th, entered in January: met by the day it happened; no reason for a delay is asked.
    state = await driver.act("record_notification", "csc", notified_on="2026-12-29", notification_reference="N-2")
    found = deadline(state, "notification")
    assert found["status"] == "met" and found["met_on"] == "2026-12-29"
    assert found["recorded_on"] > found["due"], "the late recording stays visible beside the date it happened"
    assert state["late"] is False and state["unexplained_delays"] == []
