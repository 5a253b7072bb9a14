"""Every validator rule rejects before anything is written: the reason is plain, and the history
gains no update, activity (local or not), child or state change (the test server still logs the workflow task that
ran the validator, and the case clock may re-arm its timer in it; a real server's speculative task
leaves nothing)."""

from datetime import timedelta

import pytest

from tests.cases import ACTORS, activity_runs

# Validators refuse before anything is written: SQLite only, as the database changes nothing here
# (both databases run in the records, read-model and audit tests).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

WRITTEN = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED",
    "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
    "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED",
}


async def written_events(driver, workflow_id=None) -> list[str]:
    from temporalio.api.enums.v1 import EventType

    handle = driver.env.client.get_workflow_handle(workflow_id or driver.reference)
    history = await handle.fetch_history()
    local = [f"local activity {e.event_id}" for e in activity_runs(history)
             if e.HasField("marker_recorded_event_attributes")]
    return [EventType.Name(e.event_type) for e in history.events if EventType.Name(e.event_type) in WRITTEN] + local


async def assert_rejected(driver, expected: str, action: str, actor: str, workflow_id=None, **fields) -> None:
    await driver.settled(workflow_id)
    before_events = await written_events(driver, workflow_id)
    before_state = await driver.state(workflow_id)
    before_tasks = [(t.key, t.status) for t in driver.tasks()]
    reason = await driver.rejected(action, actor, workflow_id=workflow_id, **fields)
    assert expected in reason, reason
    assert await written_events(driver, workflow_id) == before_events
    assert await driver.state(workflow_id) == before_state
    assert [(t.key, t.status) for t in driver.tasks()] == before_tasks


async def test_stage_role_and_date_rules(driver):
    await driver.start()
    today = await driver.today()
    await assert_rejected(driver, "cannot be taken while the case is at stage 'referral'", "convene_panel", "bu",
                          panel_date=str(today + timedelta(days=7)), invited_agencies=["education"])
    await assert_rejected(driver, "A panel_chair may not take 'accept_referral'", "accept_referral", "chair")
    await driver.act("accept_referral", "bu")
    await assert_rejected(driver, "A business_unit may not take 'propose_sin_decision'", "propose_sin_decision", "bu",
                          decision="notify", rationale="r")
    await driver.agree_notification()
    await assert_rejected(driver, "before the date of awareness", "record_notification", "csc",
                          notified_on=str(today - timedelta(days=30)), notification_reference="O-1")
    await assert_rejected(driver, "is in the future", "record_notification", "csc",
                          notified_on=str(today + timedelta(days=1)), notification_reference="O-1")
    await driver.act("record_notification", "csc", notified_on=str(today), notification_reference="O-1")

    await assert_rejected(driver, "is in the past", "convene_panel", "bu", panel_date=str(today - timedelta(days=1)),
                          invited_agencies=["education"])
    saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    await assert_rejected(driver, "is not a working day (weekend)", "convene_panel", "bu", panel_date=str(saturday),
                          invited_agencies=["education"])
    await assert_rejected(driver, "not a working day (bank holiday: Christmas Day)", "convene_panel", "bu",
                          panel_date=f"{today.year}-12-25", invited_agencies=["education"])
    panel_date = await driver.next_working_day()
    await assert_rejected(driver, "Unknown agencies: narnia", "convene_panel", "bu", panel_date=panel_date,
                          invited_agencies=["narnia"])
    await assert_rejected(driver, "invited more than once", "convene_panel", "bu", panel_date=panel_date,
                          invited_agencies=["education", "education"])
    await driver.act("convene_panel", "bu", panel_date=panel_date, invited_agencies=["education", "community_health"])

    await assert_rejected(driver, "Your agency (police) has not been asked", "submit_information_return",
                          "police_agency", involvement="a", chronology="b", analysis="c")
    await driver.act("submit_information_return", "education", involvement="a", chronology="b", analysis="c")
    await assert_rejected(driver, "already returned its information", "submit_information_return", "education",
                          involvement="a", chronology="b", analysis="c")
    await assert_rejected(driver, "is in the future", "record_panel_outcome", "chair",
                          held_on=str(today + timedelta(days=3)), attendees=["x"], learning="l",
                          recommendation="local_cspr", rationale="r")


async def test_sign_off_rules(driver):
    await driver.to_sign_off()
    await driver.act("sign_off", "la", version=1, decision="approve")
    await assert_rejected(driver, "The la seat has already signed off version 1", "sign_off", "la", version=1,
                          decision="approve")
    await assert_rejected(driver, "current decision sheet is version 1", "sign_off", "icb", version=2,
                          decision="approve")
    await assert_rejected(driver, "Returning needs comments", "sign_off", "icb", version=1, decision="return")
    seatless = ACTORS["la"].model_copy(update={"seat": None, "user_id": 99})
    ACTORS["seatless"] = seatless
    try:
        await assert_rejected(driver, "holding a seat", "sign_off", "seatless", version=1, decision="approve")
    finally:
        del ACTORS["seatless"]
    await assert_rejected(driver, "cannot be taken while the case is at stage 'executive_sign_off'",
                          "record_submission", "bu", submitted_on=str(await driver.today()))


async def test_publication_before_the_notice_period_is_rejected(driver):
    await driver.to_sign_off()
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    await driver.act("record_national_panel_response", "bu", received_on=today, content="ok", panel_view="agrees")
    await assert_rejected(driver, "may not take 'choose_methodology'", "choose_methodology", "bu", decided_on=today,
                          methods=["strategy_manager_report"], reviewer="SM", reviewer_kind="internal", lead="SM")
    await driver.partners_decide("choose_methodology", "la", decided_on=today, methods=["strategy_manager_report"],
                     reviewer="SM", reviewer_kind="internal", lead="SM")
    cspr = f"{driver.reference}-cspr"
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="s")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="SM")
    await driver.review("submit_draft_report", "bu", received_on=today)
    await driver.review("submit_final_report", "bu", received_on=today, recommendations=["r"])
    for seat in ("la", "icb", "police"):
        await driver.review("sign_off_report", seat, version=1, decision="approve")
    state = await driver.review("send_publication_notice", "bu", sent_on=today)
    await assert_rejected(driver, f"the earliest date is {state['earliest_publication']}", "record_publication",
                          "bu", workflow_id=cspr, published_on=today, link="https://example.org")
    await assert_rejected(driver, "may not take 'extend_deadline'", "extend_deadline", "bu", workflow_id=cspr,
                          new_due=today, reason="r")
    await assert_rejected(driver, "must be after the current target", "extend_deadline", "la", workflow_id=cspr,
                          new_due=today, reason="r")


async def test_implausible_review_dates_are_refused(driver):
    """Dates checked against the review's own dates (issue 29, item 5): a draft before the reviewer was commissioned,
    a final report before its draft, are refused with what they contradict."""
    from datetime import date, timedelta

    today = await driver.to_practice_review()
    cspr = f"{driver.reference}-cspr"
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="s")
    await driver.review("commission_reviewer", "bu", commissioned_on=today, reviewer="R")
    yesterday = str(date.fromisoformat(today) - timedelta(days=1))
    refused = await driver.rejected("submit_draft_report", "bu", workflow_id=cspr, received_on=yesterday)
    assert refused == (f"ActionRejected: The date the draft was received ({yesterday}) is before the reviewer's "
                       f"commissioning ({today}).")
    await driver.review("submit_draft_report", "bu", received_on=today)
    refused = await driver.rejected("submit_final_report", "bu", workflow_id=cspr, received_on=yesterday,
                                    recommendations=["r"])
    assert "is before the latest draft" in refused
