"""The partners decide together (issue 25, items 2 and 3).

- Working Together 2023, ch. 5: the decisions after the rapid review (whether and how a local CSPR goes on, when it
  ends, whether it is published) are the three safeguarding partners'. No seat alone, and not the business unit,
  ends, stops, extends or redirects a case: each such action is proposed and applied only when the three seats agree.
- Children Act 2004 s16C(1) puts the duty to notify on the local authority: where police or health stay silent past
  the answer date (a partnership setting, never past the notification's due date), the LA seat decides, and the
  record names who had not answered.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import timedelta

from sqlmodel import Session, select
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from engine.calendar import WorkingDayCalendar
from records.models import AuditEvent, CaseRecord, CaseReview
from records.object_store import read_stored
from service.platform.worker import build_worker
from tests.cases import CaseDriver

SEATS = ("la", "icb", "police")
NOT_SEATS = ("bu", "chair", "csc", "education", "auditor")


async def test_no_one_alone_ends_stops_or_extends_a_case(driver, case_env):
    """Every role and every seat tries to close the case, stop its review and extend it: each is refused, or leaves
    a proposal waiting on the other seats, and the case and its review go on."""
    await driver.to_practice_review()
    review_id = f"{driver.reference}-cspr"
    new_due = str(await driver.today() + timedelta(days=240))
    tries = {"close_case": {"reason": "Enough is known."}, "stop_local_cspr": {"reasons": "No longer needed."}}
    for actor in (*NOT_SEATS, *SEATS):
        for action, fields in tries.items():
            try:
                state = await driver.act(action, actor, **fields)
            except Exception as error:  # noqa: BLE001 - a refusal is one of the two right answers
                assert "may not take" in str(error.cause), (actor, action, str(error.cause))
                continue
            assert state["stage"] == "practice_review", f"{action} by {actor} took effect alone"
            proposal = state["joint_proposals"][-1]
            assert (proposal["decision"], proposal["status"]) == (action, "open")
            assert actor in ("bu", *SEATS), f"{actor} could propose {action}"
        try:
            review = await driver.act("extend_deadline", actor, workflow_id=review_id, new_due=new_due, reason="r")
        except Exception as error:  # noqa: BLE001
            assert "may not take" in str(error.cause), (actor, str(error.cause))
            continue
        assert actor in SEATS and review["joint_proposals"][-1]["status"] == "open"
        assert review["extensions"] == [], f"an extension by {actor} alone took effect"
    state = await driver.state()
    assert state["stage"] == "practice_review" and state["stopped"] is None
    assert (await driver.state(review_id))["stage"] == "terms_of_reference"
    superseded = [p["status"] for p in state["joint_proposals"] if p["decision"] == "close_case"]
    assert superseded == ["superseded"] * 3 + ["open"], "a new proposal replaces the open one"


async def test_the_three_partners_stop_a_local_cspr_and_every_record_says_stopped(driver, case_env, api):
    await driver.to_practice_review()
    state = await driver.act("stop_local_cspr", "police", reasons="The National Panel opened a national review.")
    assert state["stage"] == "practice_review"
    assert sorted(t.assignee_seat for t in driver.tasks(action="answer_joint_decision", status="open")) == ["icb", "la"]
    refused = await driver.rejected("answer_joint_decision", "icb", proposed_action="stop_local_cspr", version=2,
                                    view="agree")
    assert refused == "ActionRejected: You are answering version 2, but the open proposal is version 1."
    refused = await driver.rejected("answer_joint_decision", "police", proposed_action="stop_local_cspr", version=1,
                                    view="agree")
    assert refused == "ActionRejected: The police seat has already answered version 1 of this proposal."
    refused = await driver.rejected("answer_joint_decision", "bu", proposed_action="stop_local_cspr", version=1,
                                    view="agree")
    assert "A business_unit may not take 'answer_joint_decision'" in refused
    state = await driver.act("answer_joint_decision", "icb", proposed_action="stop_local_cspr", version=1,
                             view="agree", comments="Agreed: the national review covers the learning.")
    assert state["stage"] == "practice_review", "two seats are not the partners"
    state = await driver.act("answer_joint_decision", "la", proposed_action="stop_local_cspr", version=1,
                             view="agree")
    assert state["stage"] == "closed"
    assert state["outcome"] == "Local CSPR stopped by the partners: The National Panel opened a national review."
    assert state["stopped"].startswith("Stopped by the partners on ")
    assert [(a["seat"], a["view"]) for a in state["joint_answers"] if a["decision"] == "stop_local_cspr"] == [
        ("police", "agree"), ("icb", "agree"), ("la", "agree")]
    assert await driver.handle.result() == state["outcome"]
    child = await case_env.client.get_workflow_handle(f"{driver.reference}-cspr").describe()
    assert child.status.name in ("CANCELED", "TERMINATED")
    assert driver.tasks(status="open") == []
    with Session(driver.engine) as session:
        assert session.get(CaseRecord, driver.reference).stopped is True
        assert session.get(CaseReview, driver.reference).stage == "closed", "never counted as a late CSPR"
    tracker = await api.get(f"/api/tracker.csv?reference={driver.reference}",
                            headers=await api.as_user("strategy.manager"))
    assert tracker.status_code == 200, tracker.text
    header, row = tracker.text.splitlines()[:2]
    assert dict(zip(header.split(","), row.split(","), strict=True))["status"] == "stopped"
    await driver.save_history("stopped_by_the_partners")


async def test_a_disagreement_leaves_the_case_as_it_was(driver):
    await driver.to_practice_review()
    await driver.act("close_case", "bu", reason="The family moved abroad.")
    refused = await driver.rejected("answer_joint_decision", "la", proposed_action="close_case", version=1,
                                    view="disagree")
    assert refused == "ActionRejected: Disagreeing needs your reasons."
    await driver.act("answer_joint_decision", "la", proposed_action="close_case", version=1, view="agree")
    state = await driver.act("answer_joint_decision", "icb", proposed_action="close_case", version=1,
                             view="disagree", comments="The learning does not depend on where the family lives.")
    assert state["stage"] == "practice_review"
    assert [p["status"] for p in state["joint_proposals"] if p["decision"] == "close_case"] == ["not_agreed"]
    assert driver.tasks(action="answer_joint_decision", status="open") == [], "the police seat's task is cancelled"
    refused = await driver.rejected("answer_joint_decision", "police", proposed_action="close_case", version=1,
                                    view="agree")
    assert refused == "ActionRejected: There is no open proposal of 'close_case' for the partners to answer."


async def test_the_business_unit_closes_only_a_referral_that_never_became_a_case(driver, api):
    await driver.start()
    state = await driver.act("close_case", "bu", reason="Sent in error: a duplicate of an open referral.")
    assert state["stage"] == "closed" and state["joint_proposals"] == [], "an administrative closure"
    assert state["reopen_until"] is None, "nothing went to the National Panel: no reply to reopen it for"
    await driver.handle.result()  # the workflow ends with the closure
    response = await api.post(f"/api/cases/{driver.reference}/actions/reopen_case", json={"reason": "In error."},
                              headers=await api.as_user("exec.la"))
    assert response.status_code == 409 and "not running" in response.json()["detail"], response.text


async def test_the_partners_decide_not_to_publish(driver):
    """Not publishing (Working Together 2023 ch. 5: the partners publish, or say why not) is theirs: the business
    unit proposes it, the three seats agree, then the review goes on to its learning workshop."""
    await driver.to_publication_notice()
    today = str(await driver.today())
    review = await driver.review("record_non_publication", "bu", reasons="Sibling's welfare: publication would "
                                 "identify the family.", improvements_published_on=today)
    assert review["stage"] == "publication" and review["not_published_reasons"] is None
    review = await driver.partners_decide("record_non_publication", "bu", workflow_id=f"{driver.reference}-cspr",
                                          reasons="Sibling's welfare.", improvements_published_on=today)
    assert review["stage"] == "learning_workshop" and review["not_published_reasons"] == "Sibling's welfare."
    assert [p["status"] for p in review["joint_proposals"]] == ["superseded", "agreed"]


async def test_the_local_authority_decides_when_a_partner_stays_silent(driver, case_env, settings):
    await driver.start()
    await driver.act("accept_referral", "bu")
    await driver.act("propose_sin_decision", "csc", decision="notify", rationale="Serious harm.")
    proposed_on = await driver.today()
    answer_by = WorkingDayCalendar().add_working_days(proposed_on, 2)
    la_task = driver.tasks(action="resolve_sin_disagreement", status="open")
    assert [t.assignee_seat for t in la_task] == ["la"]
    assert f"If police or health have not answered by {answer_by.isoformat()}" in la_task[0].description
    await driver.act("respond_to_sin_proposal", "police", version=1, view="agree", comments="Agreed.")
    await case_env.sleep(timedelta(days=(answer_by - proposed_on).days + 1))
    state = await driver.act("resolve_sin_disagreement", "la", version=1, decision="notify",
                             how_resolved="The ICB did not answer; the duty to notify is ours.")
    assert state["stage"] == "notification" and state["sin_agreed"] == "notify"
    resolution = state["sin_resolutions"][0]
    assert (resolution["basis"], resolution["unanswered"]) == ("no_answer", ["icb"])
    record = next(d for d in await driver.documents() if d.kind == "sin_decision")
    html = " ".join(read_stored(settings.document_store(), record.html_path).decode().split())
    assert (f"The local authority&#39;s seat (DCS): Integrated Care Board had not answered by {answer_by.isoformat()}"
            in html or f"had not answered by {answer_by.isoformat()}" in html), "the record says who was silent"
    assert "no answer" in html, "the silent partner's view is recorded as none"
    await driver.save_history("sin_decided_by_the_la_after_silence")


async def test_before_the_answer_date_the_la_waits(driver):
    await driver.start()
    await driver.act("accept_referral", "bu")
    await driver.act("propose_sin_decision", "csc", decision="notify", rationale="Serious harm.")
    refused = await driver.rejected("resolve_sin_disagreement", "la", version=1, decision="notify", how_resolved="x")
    assert "no partner's answer is overdue" in refused


async def test_the_panels_questions_are_answered_in_a_revised_rapid_review_the_three_sign(driver, settings):
    """The National Panel asks questions: a version 2 of the rapid review carries the answers, the three partners
    sign it off as they did version 1, and it is resubmitted, while the local CSPR's methodology goes on."""
    await driver.to_sign_off()
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    refused = await driver.rejected("revise_rapid_review", "chair", answers="a")
    assert refused == "ActionRejected: The rapid review is revised when the National Panel asks questions; it has not."
    state = await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="asks_questions",
                             content="How was the health visitor's concern escalated?")
    assert state["stage"] == "methodology" and state["panel_questions_pending"]
    assert [t.assignee_role for t in driver.tasks(action="revise_rapid_review", status="open")] == ["panel_chair"]
    state = await driver.act("revise_rapid_review", "chair", answers="It was not escalated: see episode 2.",
                             changes="Chronology corrected.")
    assert state["decision_sheet_version"] == 2 and state["stage"] == "methodology"
    refused = await driver.rejected("record_submission", "bu", submitted_on=today)
    assert "already submitted" in refused, "not resubmitted before the three sign it"
    await driver.act("sign_off", "la", version=2, decision="approve")
    await driver.act("sign_off", "icb", version=2, decision="approve")
    state = await driver.act("sign_off", "police", version=2, decision="approve")
    assert state["resubmission_due"] and state["partners_decision"] == "local_cspr", "the decision stands"
    state = await driver.act("record_submission", "bu", submitted_on=today)
    assert state["resubmitted_on"] == [today] and state["submitted_on"] == today
    versions = sorted((d.kind, d.version) for d in await driver.documents()
                      if d.kind in ("decision_sheet", "decision_sheet_signed", "national_panel_submission"))
    assert versions == [("decision_sheet", 1), ("decision_sheet", 2), ("decision_sheet_signed", 1),
                        ("decision_sheet_signed", 2), ("national_panel_submission", 1),
                        ("national_panel_submission", 2)]
    resubmitted = next(d for d in await driver.documents()
                       if d.kind == "national_panel_submission" and d.version == 2)
    text = read_stored(settings.document_store(), resubmitted.html_path).decode()
    assert "How was the health visitor" in text and "It was not escalated: see episode 2." in text
    state = await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="agrees",
                             content="Thank you: answered.")
    assert state["stage"] == "methodology" and not state["panel_questions_pending"]
    refused = await driver.rejected("sign_off", "la", version=2, decision="approve")
    assert "There is nothing to sign off" in refused


async def test_a_cdop_review_and_a_joint_review_are_linked_and_on_the_report(driver, api, settings):
    """A death also reviewed by CDOP carries CDOP's reference, not a checkbox; a cross-boundary review names who
    leads and the other partnerships' contacts. Both are recorded through the API and printed on the report."""
    await driver.to_panel_preparation()
    bu = await api.as_user("strategy.manager")
    base = f"/api/cases/{driver.reference}/actions"
    missing = await api.post(f"{base}/link_cdop_review", headers=bu, json={"note": "n"})
    assert missing.status_code == 422 and "cdop_reference" in missing.text
    linked = await api.post(f"{base}/link_cdop_review", headers=bu,
                            json={"cdop_reference": "CDOP-2026-114", "note": "Joint agency response held."})
    assert linked.status_code == 200, linked.text
    assert linked.json()["cdop"]["cdop_reference"] == "CDOP-2026-114"
    member = await api.post(f"{base}/record_joint_review", headers=await api.as_user("agency.education"),
                            json={"lead_partnership": "Northshire", "other_partnerships": ["x"]})
    assert member.status_code == 403
    joint = await api.post(f"{base}/record_joint_review", headers=bu, json={
        "lead_partnership": "Northshire Safeguarding Children Partnership",
        "other_partnerships": ["Southshire SCP: business manager, sm@southshire.example"],
        "shared_documents": "Information returns and the chronology, by secure e-mail."})
    assert joint.status_code == 200, joint.text
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(),
                     invited_agencies=["education"])
    today = str(await driver.today())
    await driver.act("record_panel_outcome", "chair", held_on=today, attendees=["Chair"], learning="l",
                     recommendation="no_further_review", rationale="r")
    await driver.act("issue_decision_sheet", "chair", circumstances="c", local_review_criteria_met=False)
    sheet = next(d for d in await driver.documents() if d.kind == "decision_sheet")
    text = " ".join(read_stored(settings.document_store(), sheet.html_path).decode().split())
    assert "Child Death Overview Panel review</th><td>CDOP-2026-114" in text
    assert "Joint review led by</th><td>Northshire Safeguarding Children Partnership" in text
    assert "Southshire SCP: business manager, sm@southshire.example" in text


async def test_a_report_revised_after_a_trial_is_signed_again_and_its_notice_sent_again(driver):
    """Publication held by the partners with a reason and a review date (never a date one person fixes); the final
    report revised after the trial is signed again by the three and the 7-working-day notice sent again."""
    first = await driver.to_publication_notice()
    today = str(await driver.today())
    review_id = f"{driver.reference}-cspr"
    review_on = str(await driver.today() + timedelta(days=90))
    held = await driver.partners_decide("hold_publication", "police", workflow_id=review_id,
                                        reasons="Criminal trial listed for March.", review_on=review_on)
    assert held["publication_hold"]["review_on"] == review_on
    assert [t.due_date.isoformat() for t in driver.tasks(action="lift_publication_hold", status="open")] == [review_on]
    revised = await driver.review("submit_final_report", "bu", received_on=today,
                                  recommendations=["Safe sleep audit", "Court liaison protocol"],
                                  revision_reason="The trial's findings on the night of the injury.")
    assert revised["stage"] == "final_sign_off" and revised["report_version"] == 2
    assert revised["notice_sent_on"] is None, "the notice is sent again for the revised report"
    for seat in SEATS:
        revised = await driver.review("sign_off_report", seat, version=2, decision="approve")
    assert revised["stage"] == "publication_notice"
    assert len(driver.tasks(action="send_publication_notice", status="open")) == 1
    await driver.env.sleep(timedelta(days=1))
    again = await driver.review("send_publication_notice", "bu", sent_on=str(await driver.today()))
    assert again["earliest_publication"] > first["earliest_publication"], "7 working days from the new notice"
    assert again["publication_hold"] is not None, "the hold stands until the partners lift it"
    notices = sorted(d.version for d in await driver.documents() if d.kind == "publication_notice")
    assert len(notices) == 2
    refused = await driver.rejected("record_publication", "bu", workflow_id=review_id,
                                    published_on=str(await driver.today()), link="https://example.org/r")
    assert "The partners hold publication (Criminal trial listed for March.)" in refused
    refused = await driver.rejected("submit_final_report", "bu", workflow_id=review_id, received_on=today,
                                    recommendations=["x"])
    assert "say why it is revised" in refused
    lifted = await driver.partners_decide("lift_publication_hold", "la", workflow_id=review_id,
                                          reasons="The trial has concluded.")
    assert lifted["publication_hold"] is None and [h["reasons"] for h in lifted["holds"]] == [
        "Criminal trial listed for March."], "the hold stays on record"
    assert driver.tasks(action="lift_publication_hold", status="open") == []
    await driver.save_history("review_held_and_revised", workflow_id=review_id)


async def test_the_partners_part_in_a_national_review_is_tracked(driver):
    """The Panel decides on a national review: the partners still decide about their local work (jointly), and what
    the partnership gives the national review is recorded, with its date."""
    await driver.to_sign_off()
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    state = await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="national_review",
                             content="The Panel will hold a national review of this case.")
    assert state["national_review_from"] == today and state["reconsideration_pending"]
    assert [t.assignee_role for t in driver.tasks(action="record_national_review_part", status="open")] == [
        "business_unit"]
    state = await driver.act("record_national_review_part", "bu", given_on=today,
                             what="The rapid review and all four agency returns, to the Panel's reviewers.")
    assert state["national_review_parts"][0]["what"].startswith("The rapid review")
    assert driver.tasks(action="record_national_review_part", status="open") == []
    state = await driver.partners_decide("reconsider_decision", "police", answer="stop_local_cspr",
                                         reasons="The national review covers the learning.")
    assert state["stage"] == "closed" and state["stopped"], "stopped by the three, with why"


async def test_a_late_panel_reply_reopens_a_closed_case_by_the_partners_and_it_closes_again(driver, api):
    """Issue 25 item 4: the National Panel's reply arrives after the partners closed the case. It is recorded on
    the closed case; the partners (not the business unit alone) reopen it with a reason; it goes back to the Panel
    stage with the reply acted on, and closes again by the partners' decision, its earlier closure kept on record.
    A case closed with the reply already in is not kept open for one."""
    await driver.to_sign_off(recommendation="no_further_review")
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    state = await driver.partners_decide("close_case", "la", reason="Learning is in hand; no further review needed.")
    assert state["stage"] == "closed" and state["reopen_until"] is not None
    bu = await api.as_user("strategy.manager")
    response = await api.post(f"/api/cases/{driver.reference}/actions/convene_panel", headers=bu,
                              json={"panel_date": today, "invited_agencies": ["education"]})
    assert response.status_code == 409 and "is closed" in response.json()["detail"], response.text

    state = await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="disagrees",
                             content="The Panel considers that the criteria for a local CSPR are met.")
    assert state["stage"] == "closed", "a late reply alone reopens nothing"
    [task] = driver.tasks(action="reopen_case", status="open")
    assert task.assignee_role == "business_unit"
    await api.sign_in_page("strategy.manager")
    page = (await api.get(f"/cases/{driver.reference}")).text
    assert 'data-testid="reopen-until"' in page and f'action="/cases/{driver.reference}/actions/reopen_case"' in page
    assert "/actions/convene_panel" not in page and "/actions/close_case" not in page, "only reopening is offered"

    response = await api.post(f"/api/cases/{driver.reference}/actions/reopen_case", headers=bu,
                              json={"reason": "The National Panel disagrees with our decision (late reply)."})
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "closed", "the business unit proposes; the three partners decide"
    await driver.act("answer_joint_decision", "la", proposed_action="reopen_case", version=1, view="agree")
    await driver.act("answer_joint_decision", "icb", proposed_action="reopen_case", version=1, view="agree")
    state = await driver.act("answer_joint_decision", "police", proposed_action="reopen_case", version=1,
                             view="agree")
    assert state["stage"] == "national_panel" and state["closed_reason"] is None and state["reopen_until"] is None
    [reopened] = state["reopenings"]
    assert reopened["closed_reason"] == "Learning is in hand; no further review needed."
    assert reopened["reason"] == "The National Panel disagrees with our decision (late reply)."
    assert "Police (Ch Supt)" in reopened["agreed_by"] or "Ch Supt" in reopened["agreed_by"]
    assert sorted(t.assignee_seat for t in driver.tasks(action="reconsider_decision", status="open")) == [
        "icb", "la", "police"], "the reply is acted on as if it had come in time"
    assert driver.tasks(action="reopen_case", status="open") == []
    refused = await driver.rejected("record_national_panel_response", "bu", received_on=today, panel_view="agrees",
                                    content="Agreed.")
    assert "reply to the last submission is already recorded" in refused, "no second reply closes it past the seats"
    with Session(driver.engine) as session:
        record = session.get(CaseRecord, driver.reference)
        assert (record.stage, record.closed_reason) == ("national_panel", None)
    page = (await api.get(f"/cases/{driver.reference}")).text
    assert 'data-testid="reopenings"' in page and "The National Panel disagrees with our decision" in page

    await driver.partners_decide("reconsider_decision", "la", answer="continue",
                                 reasons="Single-agency learning covers what the Panel raised.")
    state = await driver.partners_decide("record_learning_activities", "la", decided_on=today, activities=[],
                                         note="The single-agency reviews already under way suffice.")
    assert state["stage"] == "closed" and state["outcome"].startswith("No further review: the partners' decision")
    assert state["reopen_until"] is None, "closed again, with the Panel's reply in: nothing more to reopen it for"
    assert await driver.handle.result() == state["outcome"]
    assert driver.tasks(status="open") == []
    with Session(driver.engine) as session:
        assert session.get(CaseRecord, driver.reference).stage == "closed"
    await driver.save_history("reopened_after_a_late_panel_reply")


async def to_a_local_cspr(driver) -> str:
    """A case whose sheet is signed off and submitted and whose partners chose a local CSPR: today's date."""
    await driver.to_sign_off()
    await driver.approve_all(1)
    today = str(await driver.today())
    await driver.act("record_submission", "bu", submitted_on=today)
    await driver.partners_decide("choose_methodology", "la", decided_on=today, methods=["multi_agency_audit"],
                                 reviewer="Internal", reviewer_kind="internal", lead="SM")
    return today


async def test_a_national_review_reply_after_a_stopped_cspr_reopens_it_and_the_review_starts_again(driver):
    """The partners stopped their local CSPR before the Panel replied; the late reply says the Panel will hold a
    national review. The partners reopen the case: the reply is acted on (their part in the national review, their
    reconsideration); they keep the local CSPR, choose how it takes place again, and a new review runs."""
    today = await to_a_local_cspr(driver)
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="First scope.")
    await driver.act("extend_deadline", "la", workflow_id=f"{driver.reference}-cspr", reason="Trial.",
                     new_due=str(await driver.today() + timedelta(days=240)))
    state = await driver.partners_decide("stop_local_cspr", "police", reasons="A criminal trial is pending.")
    assert state["stage"] == "closed" and state["stopped"] and state["reopen_until"]
    await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="national_review",
                     content="The Panel will hold a national review.")
    state = await driver.partners_decide("reopen_case", "icb", reason="The Panel's national review needs our part.")
    assert (state["stage"], state["stopped"], state["outcome"]) == ("national_panel", None, None)
    assert state["reopenings"][0]["stopped"].startswith("Stopped by the partners on ")
    assert state["national_review_from"] == today
    assert [t.assignee_role for t in driver.tasks(action="record_national_review_part", status="open")] == [
        "business_unit"]
    state = await driver.partners_decide("reconsider_decision", "la", answer="continue",
                                         reasons="The local CSPR goes on beside the national review.")
    assert state["stage"] == "methodology"
    state = await driver.partners_decide("choose_methodology", "la", decided_on=today, methods=["multi_agency_audit"],
                                         reviewer="Internal", reviewer_kind="internal", lead="SM")
    assert state["stage"] == "practice_review"
    # The new review starts at once, or, if the stopped one is still issuing its last documents, when it has ended.
    for _ in range(600):
        if (review := await driver.state(f"{driver.reference}-cspr"))["stage"] != "closed":
            break
        await asyncio.sleep(0.05)
    assert review["stage"] == "terms_of_reference"
    await driver.settled(f"{driver.reference}-cspr")
    assert [t.title for t in driver.tasks(status="open", action="agree_terms_of_reference")], "the new review's task"
    await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="New scope.")
    with Session(driver.engine) as session:
        assert session.get(CaseRecord, driver.reference).stopped is False
        scopes = session.exec(select(AuditEvent.detail).where(AuditEvent.case_reference == driver.reference,
                                                              AuditEvent.action == "agree_terms_of_reference")
                             .order_by(AuditEvent.id)).all()
        assert [json.loads(d)["scope"] for d in scopes] == ["First scope.", "New scope."], "the new review's steps"
        assert session.get(CaseReview, driver.reference).stage == "commissioning"


class HoldDocuments(Interceptor):
    """Holds back the documents of the workflows whose id ends with ``suffix`` until ``release`` (a render that
    takes its time on a busy host), from when ``hold`` is set."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.hold, self.release, self.held = threading.Event(), threading.Event(), threading.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        documents = self

        class Held(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput):
                info = activity.info()
                if (documents.hold.is_set() and info.activity_type == "issue_document"
                        and info.workflow_id.endswith(documents.suffix)):
                    documents.held.set()
                    if not await asyncio.to_thread(documents.release.wait, 50):  # (the activity's timeout is 60 s)
                        raise RuntimeError("the held document was never released")
                return await super().execute_activity(input)

        return Held(next)


async def test_a_case_reopened_while_its_stopped_review_still_issues_documents_runs_on(case_env, settings, engine):
    """The partners stop their local CSPR; its last document (the terms of reference) is still being issued when the
    Panel's late reply comes and the partners reopen the case. The case's run, which waited for the stopped review
    to end, goes on with the case open: the new review starts and reports to it (this ended the case's run, and
    the new review's first report failed "not found")."""
    documents = HoldDocuments("-cspr")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    async with build_worker(case_env.client, settings.model_copy(update={"temporal_task_queue": queue}), engine,
                            interceptors=[documents]):
        driver = CaseDriver(case_env, queue, engine)
        today = await to_a_local_cspr(driver)
        await driver.settled(f"{driver.reference}-cspr")
        documents.hold.set()
        try:
            await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="First scope.")
            state = await driver.partners_decide("stop_local_cspr", "police", reasons="A criminal trial is pending.")
            assert state["stage"] == "closed" and state["stopped"]
            await driver.act("record_national_panel_response", "bu", received_on=today, panel_view="national_review",
                             content="The Panel will hold a national review.")
            state = await driver.partners_decide("reopen_case", "icb", reason="The Panel's national review needs us.")
            assert state["stage"] == "national_panel"
            assert await asyncio.to_thread(documents.held.wait, 30), "the stopped review's document is held"
            stopped_review_handle = case_env.client.get_workflow_handle(f"{driver.reference}-cspr")
            stopped_review = await stopped_review_handle.describe()
            assert stopped_review.status == WorkflowExecutionStatus.RUNNING, \
                "the stopped review is still issuing its last document when the case is reopened"
        finally:
            documents.release.set()  # (a failure above must not leave the worker's shutdown waiting for it)
        for _ in range(600):  # the stopped review ends once its document is in the register
            if (stopped_review := await stopped_review_handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.05)
        assert stopped_review.status == WorkflowExecutionStatus.CANCELED
        await driver.settled()
        case = await case_env.client.get_workflow_handle(driver.reference).describe()
        assert case.status == WorkflowExecutionStatus.RUNNING, "the reopened case's run goes on"
        state = await driver.partners_decide("reconsider_decision", "la", answer="continue",
                                             reasons="The local CSPR goes on beside the national review.")
        state = await driver.partners_decide("choose_methodology", "la", decided_on=today,
                                             methods=["multi_agency_audit"], reviewer="Internal",
                                             reviewer_kind="internal", lead="SM")
        assert state["stage"] == "practice_review"
        await driver.settled(f"{driver.reference}-cspr")
        assert (await driver.state(f"{driver.reference}-cspr"))["stage"] == "terms_of_reference"
        state = await driver.review("agree_terms_of_reference", "bu", agreed_on=today, scope="New scope.")
        await driver.settled()
        assert (await driver.state())["practice_review_stage"] == state["stage"] == "commissioning", \
            "the new review's report reached the case"


async def test_the_time_to_reopen_ends_and_the_case_stays_closed(driver):
    """Closed while the Panel's reply is awaited, a case stays reopenable for the partnership's window (90 days by
    default); a reopening the partners do not agree leaves it closed, and when the window ends the workflow ends,
    leaving no task open."""
    await driver.to_sign_off(recommendation="no_further_review")
    await driver.approve_all(1)
    await driver.act("record_submission", "bu", submitted_on=str(await driver.today()))
    state = await driver.partners_decide("close_case", "police", reason="The family left the country.")
    assert state["reopen_until"] == str(await driver.today() + timedelta(days=90))
    await driver.act("reopen_case", "bu", reason="New information from the school.")
    state = await driver.act("answer_joint_decision", "la", proposed_action="reopen_case", version=1,
                             view="disagree", comments="Nothing in it changes the decision.")
    assert state["stage"] == "closed" and state["joint_proposals"][-1]["status"] == "not_agreed"
    await driver.act("reopen_case", "la", reason="On reflection the school's account matters.")
    assert len(driver.tasks(action="answer_joint_decision", status="open")) == 2
    assert await driver.handle.result() == "Closed by the partners' decision: The family left the country."
    assert driver.tasks(status="open") == [], "the proposal's tasks end with the time to reopen"
    state = await driver.state()
    assert state["reopen_until"] is None and state["joint_proposals"][-1]["status"] == "not_agreed"
