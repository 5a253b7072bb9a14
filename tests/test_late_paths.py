"""Deadlines missed: reminders before, escalation at the due date, a visible late flag, and a reason
demanded with the next action. Time is skipped on the test server; nothing sleeps in real time."""

from datetime import timedelta

from sqlmodel import Session

from engine.calendar import WorkingDayCalendar
from records.models import CaseReview


def deadline(state: dict, key: str) -> dict:
    return next(d for d in state["deadlines"] if d["key"] == key)


async def test_late_notification_is_escalated_and_needs_a_reason(driver, case_env):
    await driver.start(awareness_days_ago=0)
    await driver.act("accept_referral", "bu")
    await driver.agree_notification()
    await case_env.sleep(timedelta(days=10))
    state = await driver.state()
    assert state["late"] is True and state["escalated"] is True
    assert deadline(state, "notification")["status"] == "missed"
    reminders = driver.tasks(kind="reminder")
    assert [(t.assignee_role, t.title) for t in reminders if "notification" in t.key] == [
        ("csc_lead", "Reminder: Serious incident notification to the National Panel")
    ]
    escalations = driver.tasks(kind="escalation")
    assert sorted(t.assignee_role for t in escalations) == ["business_unit", "executive"]
    assert "Children Act 2004 s16C" in escalations[0].description

    reason = await driver.rejected("record_notification", "csc", notified_on=str(await driver.today()),
                                   notification_reference="O-1")
    assert "Give the reason for the delay" in reason
    state = await driver.act("record_notification", "csc", notified_on=str(await driver.today()),
                             notification_reference="O-1", delay_reason="Awaiting police view over a weekend.")
    notification = deadline(state, "notification")
    assert notification["status"] == "missed" and notification["met_on"] is not None
    assert notification["delay_reason"] == "Awaiting police view over a weekend."
    assert state["unexplained_delays"] == []
    assert all(t.status == "done" for t in driver.tasks(kind="escalation"))


async def test_missing_information_return_is_reminded_then_escalated(driver, case_env):
    await driver.to_panel_preparation()
    # A panel far enough off for the returns (due 2 working days before it) to be reminded first.
    panel_date = str(WorkingDayCalendar().add_working_days(await driver.today(), 6))
    await driver.act("convene_panel", "bu", panel_date=panel_date, invited_agencies=["education", "community_health"])
    await driver.act("submit_information_return", "education", involvement="a", chronology="b", analysis="c")
    state = await driver.state()
    returns_due = deadline(state, "agency_returns")
    assert returns_due["working_days_left"] == 7 - 0 or returns_due["working_days_left"] <= 7
    await case_env.sleep(timedelta(days=12))
    reminders = [t for t in driver.tasks(kind="reminder") if "agency_returns" in t.key]
    assert [(t.assignee_role, t.assignee_agency) for t in reminders] == [("agency_member", "community_health")]
    escalation = [t for t in driver.tasks(kind="escalation") if "agency_returns" in t.key]
    assert len(escalation) == 2 and "community_health" in escalation[0].description
    assert "education" not in escalation[0].description.split("Waiting on:")[1]
    state = await driver.state()
    assert state["late"] is True
    assert {"what": "Information return", "role": "agency_member", "agency": "community_health"}.items() <= (
        state["outstanding"][0].items()
    )


async def test_sign_off_crossing_the_fifteen_day_deadline(driver, case_env):
    state = await driver.to_sign_off()
    await driver.act("sign_off", "la", version=1, decision="approve")
    due = deadline(state, "rapid_review")["due"]
    await case_env.sleep(timedelta(days=25))
    state = await driver.state()
    assert deadline(state, "rapid_review")["status"] == "missed"
    assert deadline(state, "sign_off")["status"] == "missed"
    assert deadline(state, "rapid_review")["working_days_left"] < 0
    escalations = [t for t in driver.tasks(kind="escalation") if ":sign_off:" in t.key]
    assert escalations and "icb, police" in escalations[0].description, "names the seats still to sign"
    assert any(due in t.description for t in driver.tasks(kind="escalation") if "rapid_review" in t.key)
    reason = await driver.rejected("sign_off", "icb", version=1, decision="approve")
    assert "missed a deadline" in reason and "Rapid review submitted to the National Panel" in reason
    state = await driver.act("sign_off", "icb", version=1, decision="approve", delay_reason="Executive on leave.")
    assert state["late"] is True


async def test_cspr_past_six_months_reminds_escalates_and_can_be_extended(driver, case_env):
    await driver.to_sign_off()
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    await driver.act("record_national_panel_response", "bu", received_on=today, content="ok", panel_view="agrees")
    await driver.partners_decide("choose_methodology", "icb", decided_on=today, methods=["independent_reviewer_report"],
                     reviewer="R", reviewer_kind="independent", lead="L")
    review_id = f"{driver.reference}-cspr"
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="s")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="R")

    await case_env.sleep(timedelta(days=95))
    cspr_reminders = [t for t in driver.tasks(kind="reminder") if ":cspr:" in t.key]
    assert len(cspr_reminders) == 1
    await case_env.sleep(timedelta(days=62))
    assert len([t for t in driver.tasks(kind="reminder") if ":cspr:" in t.key]) == 2
    await case_env.sleep(timedelta(days=30))
    review = await driver.state(review_id)
    assert deadline(review, "cspr")["status"] == "missed"
    assert len([t for t in driver.tasks(kind="escalation") if ":cspr:" in t.key]) == 2
    parent = await driver.state()
    assert parent["late"] is True and parent["escalated"] is True, "the case shows its review is late"

    statutory_due = deadline(review, "cspr")["due"]
    new_due = str(await driver.today() + timedelta(days=60))
    review = await driver.partners_decide("extend_deadline", "la", workflow_id=review_id, new_due=new_due,
                                          reason="Parallel criminal proceedings (CPS protocol).",
                                          delay_reason="Parallel criminal proceedings.")
    statutory = deadline(review, "cspr")
    assert statutory["due"] == statutory_due and statutory["status"] == "missed", "the statutory date is kept"
    assert statutory["delay_reason"] == "Parallel criminal proceedings (CPS protocol)."
    revised = deadline(review, "cspr_revised")
    assert revised["due"] == new_due and revised["status"] == "open"
    assert "CPS protocol" in revised["rule"] and statutory_due in revised["rule"]
    assert review["extensions"][0]["agreed_by"] == ("Local authority (DCS); Integrated Care Board (ICB CNO); "
                                                    "Police (Ch Supt)"), "the three partners agreed it"
    notices = [d for d in await driver.documents() if d.kind == "cspr_delay_notice"]
    assert len(notices) == 1, "the delay notice to the Panel and DfE is issued"
    with Session(driver.engine) as session:
        read_model = session.get(CaseReview, driver.reference)
        assert str(read_model.due) == statutory_due, "timeliness is measured against the statutory date"


async def test_a_final_report_awaiting_sign_off_waits_on_the_seats_not_the_business_unit(driver, case_env):
    """Issue 29: while the final report waits for the partners' sign-off, the review's reminders and escalation
    name the seats yet to approve it (the business unit's part is done)."""
    today = await driver.to_practice_review()
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="Six months before harm.")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="A. Reviewer")
    await driver.review("submit_draft_report", "bu", received_on=today)
    await driver.review("submit_final_report", "bu", received_on=today, recommendations=["Safe sleep audit"])
    await driver.review("sign_off_report", "la", version=1, decision="approve")
    await case_env.sleep(timedelta(days=200))  # past the six months
    escalation = [t for t in driver.tasks(kind="escalation") if "Local CSPR completed" in t.title]
    assert escalation and all(t.description.endswith("Waiting on: icb, police.") for t in escalation), [
        t.description for t in escalation]
    reminders = {t.assignee_seat for t in driver.tasks(kind="reminder") if "CSPR" in t.title}
    assert reminders == {"icb", "police"}, reminders
