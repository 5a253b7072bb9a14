"""Every branch of a case, end to end on the time-skipping server, with tasks and documents in the DB."""

import asyncio
from datetime import timedelta

import pytest

from engine.calendar import WorkingDayCalendar, add_months


def stages(state: dict) -> list[str]:
    return [change["stage"] for change in state["stage_history"]]


def deadline(state: dict, key: str) -> dict:
    return next(d for d in state["deadlines"] if d["key"] == key)



async def test_local_cspr_case_runs_from_referral_to_one_year_on(driver, case_env):
    state = await driver.to_sign_off()
    cal = WorkingDayCalendar()
    notified = state["notified_on"]
    rr = deadline(state, "rapid_review")
    from datetime import date

    assert rr["due"] == str(cal.add_working_days(date.fromisoformat(notified), 15))
    assert "15 working days" in rr["rule"]
    assert state["stage"] == "executive_sign_off"
    assert len(driver.tasks(kind="sign_off", status="open")) == 3

    state = await driver.approve_all(version=1)
    # The partners' decision is made at sign-off: the local review starts from it, without waiting on the Panel.
    assert state["stage"] == "methodology"
    assert state["partners_decision"] == "local_cspr"
    decided = date.fromisoformat(state["partners_decided_on"])
    assert deadline(state, "sign_off")["status"] == "met"
    await case_env.sleep(timedelta(days=3))
    today = await driver.today()
    state = await driver.partners_decide("choose_methodology", "la", decided_on=str(today),
                                         methods=["partner_led_workshop", "family_engagement"],
                                         reviewer="Independent reviewer", reviewer_kind="independent",
                                         lead="Strategy Manager")
    assert state["stage"] == "practice_review"
    review = await driver.state(f"{driver.reference}-cspr")
    assert deadline(review, "cspr")["due"] == str(add_months(decided, 6)), "six months from the decision"
    state = await driver.act("record_submission", "bu", submitted_on=str(today))
    assert deadline(state, "national_panel_reply")["due"] == str(cal.add_working_days(today, 10))
    state = await driver.act("record_national_panel_response", "bu", received_on=str(today),
                             content="The Panel agrees a local review.", panel_view="agrees")
    assert state["stage"] == "practice_review" and not state["reconsideration_pending"]

    await driver.review("agree_terms_of_reference", "bu", agreed_on=str(today), scope="Six months before harm.")
    await driver.review("commission_reviewer", "bu", commissioned_on=str(today), reviewer="A. Reviewer")
    await driver.review("record_learning_event", "bu", kind="practitioner_workshop", held_on=str(today),
                        note="Practitioners described pressure of caseloads.")
    await driver.review("record_learning_event", "bu", kind="family_engagement", held_on=str(today),
                        note="Mother spoke with the reviewer.")
    await driver.review("submit_draft_report", "bu", received_on=str(today))
    await driver.review("submit_final_report", "bu", received_on=str(today), recommendations=["Safe sleep audit"])
    for seat in ("la", "icb", "police"):
        review = await driver.review("sign_off_report", seat, version=1, decision="approve")
    assert review["stage"] == "publication_notice"
    review = await driver.review("send_publication_notice", "bu", sent_on=str(today))
    earliest = review["earliest_publication"]
    assert earliest == str(cal.add_working_days(today, 7))
    await case_env.sleep(timedelta(days=12))
    published = await driver.today()
    review = await driver.review("record_publication", "bu", published_on=str(published), link="https://example.org/r")
    assert review["stage"] == "learning_workshop"
    review = await driver.review("record_learning_workshop", "bu", held_on=str(published))
    assert review["one_year_workshop_due"] == str(add_months(published, 12))
    for _ in range(100):  # the review tells the case by a signal, which the case takes in its own next task
        parent = await driver.state()
        if parent["practice_review_stage"] == "one_year_on":
            break
        await asyncio.sleep(0.05)
    assert parent["practice_review_stage"] == "one_year_on"

    await case_env.sleep(timedelta(days=370))  # the one-year timer reminds, then escalates
    assert driver.tasks(kind="escalation")
    later = await driver.today()
    await driver.review("record_one_year_workshop", "bu", held_on=str(later),
                        delay_reason="Workshop postponed by the partnership.")
    result = await driver.handle.result()
    assert result.startswith("Local CSPR completed")
    final = await driver.state()
    assert final["stage"] == "closed"
    assert stages(final)[:9] == ["referral", "csc_consultation", "notification", "panel_preparation", "panel",
                                 "decision_sheet", "executive_sign_off", "methodology", "practice_review"]
    assert stages(final)[-1] == "closed"
    assert driver.tasks(status="open") == []
    kinds = {d.kind for d in await driver.documents()}
    assert {"referral_acknowledgement", "sin_decision", "notification_record", "panel_invitation",
            "information_request_education", "decision_sheet", "sign_off_request", "decision_sheet_signed",
            "national_panel_submission", "terms_of_reference", "publication_notice",
            "seven_minute_briefing"} <= kinds
    await driver.save_history("local_cspr_case")
    await driver.save_history("local_cspr_review", f"{driver.reference}-cspr")
    events = await driver.history_length() + await driver.history_length(f"{driver.reference}-cspr")
    print(f"\nTemporal history events for a full local_cspr case: {events}")


async def test_an_action_is_answered_before_its_documents_which_follow_in_step_order(driver):
    """Rendering is not the person's wait: the answer names the documents being prepared; they are issued after it,
    in the order their steps asked for them, and each leaves the list once it is in the register."""
    await driver.to_panel_preparation()
    await driver.documents()  # the earlier steps' documents are in the register
    state = await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                             invited_agencies=["education", "police"])
    assert state["documents_in_preparation"] == ["information_request_education", "information_request_police",
                                                 "panel_invitation"]
    issued = sorted(await driver.documents(), key=lambda d: d.id)
    assert [d.kind for d in issued] == ["referral_acknowledgement", "sin_decision", "notification_record",
                                        "information_request_education", "information_request_police",
                                        "panel_invitation"]
    assert (await driver.state())["documents_in_preparation"] == []


async def test_a_referral_is_declined_only_after_the_partners_agree_not_to_notify(driver):
    """The business unit cannot close a referral before CSC has considered it (Children Act 2004 s16C: the duty is
    the local authority's); once the three partners agree not to notify, it declines it and writes to the referrer."""
    await driver.start()
    refused = await driver.rejected("decline_referral", "bu", reason="Does not meet the criteria: no harm.")
    assert refused.startswith("ActionRejected: The business unit cannot decline a referral before Children's "
                              "Social Care has considered it")
    await driver.act("accept_referral", "bu")
    refused = await driver.rejected("decline_referral", "bu", reason="No harm.")
    assert refused == ("ActionRejected: A referral is declined once the three partners have agreed not to notify; "
                       "they have not (yet).")
    state = await driver.agree_notification("do_not_notify", "No abuse or neglect known or suspected.")
    assert state["stage"] == "csc_consultation" and state["sin_agreed"] == "do_not_notify"
    assert deadline(state, "notification")["status"] == "cancelled"
    assert [o["what"] for o in state["outstanding"]] == ["Decline the referral (the partners agreed not to notify)"]
    refused = await driver.rejected("propose_sin_decision", "csc", decision="notify", rationale="r")
    assert refused == "ActionRejected: The partners already agreed the notification decision (do_not_notify)."
    assert [t.assignee_role for t in driver.tasks(action="decline_referral", status="open")] == ["business_unit"]
    # Nothing left being prepared when the case closes: its letter to the referrer is queued only once the closing
    # step is applied, after the run has seen the case closed, and must still be issued before the run ends.
    assert "sin_decision" in {d.kind for d in await driver.documents()}
    state = await driver.act("decline_referral", "bu", reason="Written to the referring agency.")
    assert state["stage"] == "closed"
    assert state["closed_reason"] == ("Referral declined: no serious incident notification, agreed by the three "
                                      "partners (No abuse or neglect known or suspected.): Written to the referring "
                                      "agency.")
    assert await driver.handle.result() == state["closed_reason"]
    await driver.save_history("declined_referral")
    assert driver.tasks(status="open") == []
    assert [t.outcome for t in driver.tasks(action="accept_referral")] == ["accepted"]
    assert all(d["status"] == "cancelled" for d in state["deadlines"])
    kinds = {d.kind for d in await driver.documents()}
    assert {"sin_decision", "no_notification_letter"} <= kinds


async def test_no_further_review_closes_after_the_panels_response(driver):
    await driver.to_panel_preparation()
    panel_date = await driver.next_working_day()
    await driver.act("convene_panel", "bu", panel_date=panel_date, invited_agencies=["education"])
    await driver.act("submit_information_return", "education", involvement="a", chronology="b", analysis="c")
    state = await driver.state()
    assert state["stage"] == "panel", "all returns in moves the case to the panel stage"
    today = str(await driver.today())
    await driver.act("record_panel_outcome", "chair", held_on=today, attendees=["Chair"], learning="Good practice.",
                     recommendation="no_further_review", rationale="Learning captured by the rapid review.")
    await driver.act("issue_decision_sheet", "chair", circumstances="c", local_review_criteria_met=False)
    await driver.approve_all(version=1)
    await driver.act("record_submission", "bu", submitted_on=today)
    state = await driver.act("record_national_panel_response", "bu", received_on=today, content="Agreed.",
                             panel_view="agrees")
    assert state["stage"] == "national_panel" and state["learning_decision_pending"], "learning is decided first"
    assert state["outcome"] is None
    assert [t.assignee_role for t in driver.tasks(action="record_learning_activities", status="open")] == ["executive"]
    state = await driver.partners_decide("record_learning_activities", "la", decided_on=today, activities=[],
                             note="The rapid review's immediate actions cover the learning.")
    assert state["stage"] == "closed"
    assert state["outcome"] == ("No further review: the partners' decision (the National Panel agreed); no further "
                                "learning activity: The rapid review's immediate actions cover the learning.")
    assert [c["stage"] for c in state["stage_history"]][-3:] == ["executive_sign_off", "national_panel", "closed"]
    assert await driver.handle.result() == state["outcome"]
    assert driver.tasks(status="open") == []
    await driver.save_history("no_further_review")


@pytest.mark.parametrize("panel_view", ["disagrees", "national_review"])
async def test_the_panels_differing_reply_never_ends_the_partners_local_review(driver, panel_view):
    """Working Together 2023 ch. 5 and SI 2018/789 reg. 11: the decision to hold a local CSPR is the partners';
    a reply that differs (even a national review by the Panel) opens a reconsideration that is theirs."""
    await driver.to_sign_off()
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    state = await driver.act("record_national_panel_response", "bu", received_on=today, content="Our view differs.",
                             panel_view=panel_view)
    assert state["stage"] == "methodology", "the local review goes on"
    assert state["reconsideration_pending"]
    assert len(driver.tasks(action="reconsider_decision", status="open")) == 3, "one per partner seat"
    refused = await driver.rejected("reconsider_decision", "la", answer="undertake_local_cspr", reasons="x")
    assert "already decided on a local CSPR" in refused
    refused = await driver.rejected("reconsider_decision", "bu", answer="continue", reasons="x")
    assert "may not take 'reconsider_decision'" in refused, "the partners' answer is theirs"
    state = await driver.partners_decide("reconsider_decision", "icb", answer="continue",
                                         reasons="Local learning is needed whatever the national review finds.")
    assert state["stage"] == "methodology" and not state["reconsideration_pending"]
    assert state["reconsiderations"][0]["answer"] == "continue"
    assert driver.tasks(action="reconsider_decision", status="open") == []
    assert driver.tasks(action="choose_methodology", status="open")


async def test_partners_can_change_to_a_local_review_after_the_panel_disagrees(driver, case_env):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(), invited_agencies=["education"])
    today = str(await driver.today())
    await driver.act("record_panel_outcome", "chair", held_on=today, attendees=["Chair"], learning="l",
                     recommendation="no_further_review", rationale="r")
    await driver.act("issue_decision_sheet", "chair", circumstances="c", local_review_criteria_met=False)
    state = await driver.approve_all(1)
    assert state["stage"] == "national_panel" and state["partners_decision"] == "no_further_review"
    await driver.act("record_submission", "bu", submitted_on=today)
    await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="disagrees",
                     content="The Panel considers a local review more appropriate (reg. 11(d)).")
    await case_env.sleep(timedelta(days=2))
    changed_on = await driver.today()
    state = await driver.partners_decide("reconsider_decision", "police", answer="undertake_local_cspr",
                                         reasons="We accept the Panel's view.")
    assert state["stage"] == "methodology"
    assert state["partners_decision"] == "local_cspr" and state["partners_decided_on"] == str(changed_on)


async def test_close_case_during_practice_review_cancels_the_review(driver, case_env):
    await driver.to_practice_review()
    state = await driver.partners_decide("close_case", "bu", reason="Criminal proceedings: the partners stop.")
    assert state["stage"] == "closed"
    assert await driver.handle.result() == "Closed by the partners' decision: Criminal proceedings: the partners stop."
    child = case_env.client.get_workflow_handle(f"{driver.reference}-cspr")
    description = await child.describe()
    assert description.status.name in ("CANCELED", "TERMINATED")
    assert driver.tasks(status="open") == []


async def test_close_case_at_panel_stage(driver):
    await driver.to_panel_preparation()
    state = await driver.partners_decide("close_case", "bu", reason="Duplicate of RR-0001.")
    assert state["stage"] == "closed"
    assert driver.tasks(status="open") == []
