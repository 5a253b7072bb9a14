"""The notification decision as the statute and the National Panel have it, and learning without a local CSPR.

- The local authority notifies; all three partners should agree which incidents are notified (National Panel FAQ;
  the partnership's "3-Way decision making for Serious Incident Notifications"): the CSC lead proposes, the police
  and ICB Executive seats agree or disagree, a disagreement is resolved (a revised proposal, or the resolution the
  LA seat records) before the notification is recorded or the referral declined.
- The death of a looked-after child is notified without suspected abuse or neglect; the death of a care leaver up
  to 24 goes to the Secretary of State and Ofsted. The category removes no step: the rapid review follows.
- One notification covers up to 4 children: linked cases, at most 3 others.
- After no further review, the partners may choose learning of its own; its actions go into the action plan.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar, london_date
from records.models import PlanAction


def deadline(state: dict, key: str) -> dict:
    return next(d for d in state["deadlines"] if d["key"] == key)


async def test_a_disagreement_is_resolved_by_a_revised_proposal_before_the_notification(driver):
    await driver.start()
    await driver.act("accept_referral", "bu")
    assert [t.assignee_role for t in driver.tasks(action="propose_sin_decision", status="open")] == ["csc_lead"]
    refused = await driver.rejected("respond_to_sin_proposal", "police", version=1, view="agree", comments="c")
    assert refused == "ActionRejected: The CSC lead has not proposed a notification decision yet."
    state = await driver.act("propose_sin_decision", "csc", decision="do_not_notify",
                             rationale="Accidental injury; no concerns known.")
    open_answers = driver.tasks(action="respond_to_sin_proposal", status="open")
    assert sorted(t.assignee_seat for t in open_answers) == ["icb", "police"]
    assert [(o["role"], o["seat"]) for o in state["outstanding"]] == [("executive", "police"), ("executive", "icb")]

    refused = await driver.rejected("respond_to_sin_proposal", "la", version=1, view="agree", comments="c")
    assert refused == ("ActionRejected: The police and health (ICB) Executive seats answer the CSC lead's "
                       "proposal; the local authority's view is the proposal itself.")
    refused = await driver.rejected("respond_to_sin_proposal", "csc", version=1, view="agree", comments="c")
    assert "A csc_lead may not take 'respond_to_sin_proposal'" in refused
    refused = await driver.rejected("record_notification", "csc", notified_on=str(await driver.today()),
                                    notification_reference="OF-1")
    assert "cannot be taken while the case is at stage 'csc_consultation'" in refused, "not before the agreement"

    state = await driver.act("respond_to_sin_proposal", "police", version=1, view="disagree",
                             comments="The injury pattern is not consistent with the account: abuse suspected.")
    assert [o["what"] for o in state["outstanding"]] == ["Revise the notification proposal",
                                                         "Or record how the partners resolved the disagreement"]
    refused = await driver.rejected("respond_to_sin_proposal", "police", version=1, view="agree", comments="c")
    assert refused == "ActionRejected: The police seat has already answered version 1 of the proposal."
    refused = await driver.rejected("decline_referral", "bu", reason="No harm.")
    assert "have agreed not to notify" in refused, "a disagreement is not an agreement not to notify"
    state = await driver.act("respond_to_sin_proposal", "icb", version=1, view="agree", comments="Accidental.")
    assert state["sin_agreed"] is None and state["stage"] == "csc_consultation"

    state = await driver.act("propose_sin_decision", "csc", decision="notify",
                             rationale="Serious harm; abuse suspected by the police.")
    assert [p["version"] for p in state["sin_proposals"]] == [1, 2]
    assert driver.tasks(key=f"{driver.reference}:resolve_sin:v1")[0].status == "cancelled"
    refused = await driver.rejected("respond_to_sin_proposal", "icb", version=1, view="agree", comments="c")
    assert refused == "ActionRejected: You are answering version 1, but the current proposal is version 2."
    await driver.act("respond_to_sin_proposal", "police", version=2, view="agree", comments="Agreed.")
    state = await driver.act("respond_to_sin_proposal", "icb", version=2, view="agree", comments="Agreed now.")
    assert state["stage"] == "notification" and state["sin_agreed"] == "notify"
    assert driver.tasks(action="respond_to_sin_proposal", status="open") == []
    refused = await driver.rejected("propose_sin_decision", "csc", decision="notify", rationale="again")
    assert "cannot be taken while the case is at stage 'notification'" in refused
    state = await driver.act("record_notification", "csc", notified_on=str(await driver.today()),
                             notification_reference="OF-2")
    assert state["stage"] == "panel_preparation"
    sheet = next(d for d in await driver.documents() if d.kind == "sin_decision")
    assert sheet.version == 2
    await driver.save_history("sin_disagreement_revised")


async def test_a_disagreement_the_partners_resolve_is_recorded_by_the_local_authority(driver):
    await driver.start()
    await driver.act("accept_referral", "bu")
    await driver.act("propose_sin_decision", "csc", decision="notify", rationale="Serious harm.")
    refused = await driver.rejected("resolve_sin_disagreement", "la", version=1, decision="notify", how_resolved="x")
    assert refused.startswith("ActionRejected: There is no disagreement to resolve on version 1 of the proposal, "
                              "and no partner's answer is overdue. Police and health have until ")
    await driver.act("respond_to_sin_proposal", "police", version=1, view="agree", comments="Agreed.")
    await driver.act("respond_to_sin_proposal", "icb", version=1, view="disagree",
                     comments="Health sees a medical cause: not a serious incident.")
    assert [t.assignee_seat for t in driver.tasks(action="resolve_sin_disagreement", status="open")] == ["la"]
    refused = await driver.rejected("resolve_sin_disagreement", "police", version=1, decision="notify",
                                    how_resolved="x")
    assert refused.startswith("ActionRejected: The local authority's seat records the resolution: the duty to "
                              "notify is the local authority's (")
    state = await driver.act("resolve_sin_disagreement", "la", version=1, decision="notify",
                             how_resolved="Discussed by the three partners on the phone: the cause is not yet known, "
                                          "so the incident is notified; the ICB's view is recorded.")
    assert state["stage"] == "notification" and state["sin_agreed"] == "notify"
    assert state["sin_resolutions"][0]["by"] == "DCS"
    assert [r["view"] for r in state["sin_responses"]] == ["agree", "disagree"], "the dissent stays on record"
    assert driver.tasks(status="open", action="propose_sin_decision") == []


async def test_a_looked_after_childs_death_is_notified_and_still_rapid_reviewed(driver):
    await driver.start(category="looked_after_child_death", linked_references=["RR-2026-0007"])
    await driver.act("accept_referral", "bu")
    refused = await driver.rejected("propose_sin_decision", "csc", decision="do_not_notify", rationale="Illness.")
    assert refused.startswith("ActionRejected: This case is the looked after child death: it is notified (The "
                              "death of a looked-after child is notified even where abuse or neglect is not known "
                              "or suspected")
    state = await driver.agree_notification("notify", "A looked-after child died of an illness.")
    assert state["linked_references"] == ["RR-2026-0007"]
    state = await driver.act("record_notification", "csc", notified_on=str(await driver.today()),
                             notification_reference="OF-3")
    assert state["stage"] == "panel_preparation", "notified AND reviewed: the category removes no statutory step"
    assert deadline(state, "notification")["status"] == "met"
    assert deadline(state, "rapid_review")["status"] == "open", "the 15-day rapid review window opens"
    assert [t.action for t in driver.tasks(status="open")] == ["convene_panel"]
    assert "notification_record" in {d.kind for d in await driver.documents()}
    await driver.save_history("looked_after_child_death")


async def test_a_care_leavers_death_goes_to_the_secretary_of_state_and_ofsted_and_the_review_goes_on(driver):
    await driver.start(category="care_leaver_death")
    await driver.act("accept_referral", "bu")
    await driver.agree_notification("notify", "A care leaver aged 22 died.")
    (task,) = driver.tasks(action="record_notification", status="open")
    assert task.description.startswith("Notify the Secretary of State and Ofsted of the care leaver's death")
    state = await driver.act("record_notification", "csc", notified_on=str(await driver.today()),
                             notification_reference="OF-4")
    assert state["stage"] == "panel_preparation", "the partners may still choose a review: the case goes on"
    assert state["outcome"] is None
    window = deadline(state, "rapid_review")
    assert window["clock"] == "local" and window["rule"].startswith("The partners chose to review a care leaver's"), (
        "a care leaver of 18 to 24 is not a child: no statutory rapid review clock")


async def test_the_csc_lead_corrects_the_category_and_a_death_is_notified_after_all(driver):
    await driver.start()
    refused = await driver.rejected("correct_referral", "bu", category="looked_after_child_death",
                                    linked_references=[], reason="x")
    assert "A business_unit may not take 'correct_referral'" in refused
    await driver.act("accept_referral", "bu")
    refused = await driver.rejected("correct_referral", "csc", category="serious_harm_or_death",
                                    linked_references=[], reason="x")
    assert refused == "ActionRejected: The category and linked cases are already as given: nothing to correct."
    refused = await driver.rejected("correct_referral", "csc", category="serious_harm_or_death",
                                    linked_references=[driver.reference], reason="x")
    assert refused == "ActionRejected: A case cannot be linked with itself."
    state = await driver.agree_notification("do_not_notify", "No abuse or neglect suspected.")
    assert deadline(state, "notification")["status"] == "cancelled"
    state = await driver.act("correct_referral", "csc", category="looked_after_child_death",
                             linked_references=["RR-2026-0011", "RR-2026-0012"],
                             reason="The child was looked after (s20): the death is notified.")
    assert state["category"] == "looked_after_child_death"
    assert state["linked_references"] == ["RR-2026-0011", "RR-2026-0012"]
    assert state["sin_agreed"] is None and deadline(state, "notification")["status"] == "open"
    assert [o["what"] for o in state["outstanding"]] == ["Propose the notification decision"]
    assert driver.tasks(action="decline_referral", status="open") == []
    refused = await driver.rejected("decline_referral", "bu", reason="x")
    assert "have agreed not to notify" in refused
    refused = await driver.rejected("propose_sin_decision", "csc", decision="do_not_notify", rationale="r")
    assert refused.startswith("ActionRejected: This case is the looked after child death: it is notified")
    state = await driver.agree_notification("notify", "A looked-after child died.")
    assert state["stage"] == "notification"


async def test_learning_without_a_local_cspr_goes_into_the_action_plan(driver, engine):
    await driver.to_panel_preparation()
    await driver.act("convene_panel", "bu", panel_date=await driver.next_working_day(), invited_agencies=["education"])
    today = await driver.today()
    await driver.act("record_panel_outcome", "chair", held_on=str(today), attendees=["Chair"], learning="l",
                     recommendation="no_further_review", rationale="r")
    await driver.act("issue_decision_sheet", "chair", circumstances="c", local_review_criteria_met=False)
    await driver.approve_all(1)
    activities = [
        {"kind": "single_agency_review", "description": "Health visiting review of safe sleep advice",
         "lead": "Community health", "due": str(WorkingDayCalendar().add_working_days(today, 40))},
        {"kind": "thematic_review", "description": "Infant safety across the last three rapid reviews",
         "lead": "Strategy Manager", "due": str(WorkingDayCalendar().add_working_days(today, 60))},
    ]
    refused = await driver.rejected("record_learning_activities", "bu", decided_on=str(today), activities=[],
                                    note="n")
    assert "A business_unit may not take 'record_learning_activities'" in refused, "the partners decide"
    refused = await driver.rejected("record_learning_activities", "la", decided_on=str(today), note="n",
                                    activities=[{**activities[0], "due": "2020-01-01"}])
    assert "is before the date of the decision" in refused
    # Decided before the Panel's reply: the case closes on the reply with the learning on record.
    state = await driver.partners_decide("record_learning_activities", "icb", decided_on=str(today),
                                         activities=activities,
                                         note="Single-agency and thematic learning instead of a local CSPR.")
    assert state["stage"] == "national_panel"
    refused = await driver.rejected("record_learning_activities", "la", decided_on=str(today), activities=[],
                                    note="n")
    assert refused == f"ActionRejected: The learning was already recorded on {today}."
    with Session(engine) as session:
        raised = session.exec(select(PlanAction).where(PlanAction.case_reference == driver.reference,
                                                       PlanAction.source == "learning_activity")).all()
    assert sorted(p.description for p in raised) == [
        "Single-agency review: Health visiting review of safe sleep advice (lead: Community health)",
        "Thematic review: Infant safety across the last three rapid reviews (lead: Strategy Manager)"]
    await driver.act("record_submission", "bu", submitted_on=str(today))
    state = await driver.act("record_national_panel_response", "bu", received_on=str(today), content="Agreed.",
                             panel_view="agrees")
    assert state["stage"] == "closed"
    assert state["outcome"] == ("No further review: the partners' decision (the National Panel agreed); learning "
                                "without a local CSPR: single-agency review, thematic review (in the action plan)")


async def test_learning_is_only_after_no_further_review(driver):
    await driver.to_sign_off()
    await driver.approve_all(1)
    refused = await driver.rejected("record_learning_activities", "la", decided_on=str(await driver.today()),
                                    activities=[], note="n")
    assert "cannot be taken while the case is at stage 'methodology'" in refused


async def test_the_three_partners_decide_through_the_api_each_from_my_tasks(api, case_env):
    today = london_date(await case_env.get_current_time())
    bu = await api.as_user("strategy.manager")
    referral = {"pseudonym": "Twin A", "age_band": "under 1", "summary": "Twins harmed.", "incident_date": str(today),
                "awareness_date": str(today), "referring_agency": "police"}
    too_many = await api.post("/api/cases", headers=bu, json={**referral, "linked_references": [
        "RR-2026-1", "RR-2026-2", "RR-2026-3", "RR-2026-4"]})
    assert too_many.status_code == 422
    assert "One notification covers up to 4 children" in too_many.json()["detail"]
    created = await api.post("/api/cases", headers=bu, json={**referral, "linked_references": ["RR-2026-0099"]})
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    assert created.json()["state"]["linked_references"] == ["RR-2026-0099"]

    async def act(username, action, status=200, **body):
        response = await api.post(f"/api/cases/{reference}/actions/{action}", headers=await api.as_user(username),
                                  json=body)
        assert response.status_code == status, f"{action}: {response.text}"
        return response.json()

    refused = await act("strategy.manager", "decline_referral", status=409, reason="No harm.")
    assert refused["detail"].startswith("The business unit cannot decline a referral before Children's Social Care")
    await act("strategy.manager", "accept_referral")
    retired = await act("csc.lead", "record_sin_decision", status=404, police_view="p", health_view="h",
                        decision="notify", rationale="r")
    assert "Unknown action 'record_sin_decision'" in retired["detail"]
    await act("csc.lead", "propose_sin_decision", decision="notify", rationale="CSC-RATIONALE-9")
    for username, comments in (("exec.police", "POLICE-VIEW-9"), ("exec.icb", "HEALTH-VIEW-9")):
        headers = await api.as_user(username)
        mine = (await api.get("/api/tasks", headers=headers)).json()["items"]
        assert [t["action"] for t in mine] == ["respond_to_sin_proposal"], username
        done = await api.post(f"/api/tasks/{mine[0]['id']}/complete", headers=headers,
                              json={"version": 1, "view": "agree", "comments": comments})
        assert done.status_code == 200, done.text
    assert (await api.get("/api/tasks", headers=await api.as_user("exec.la"))).json()["items"] == []
    state = done.json()
    assert state["stage"] == "notification" and state["sin_agreed"] == "notify"
    await act("csc.lead", "record_notification", notified_on=str(today), notification_reference="OF-9")
    await act("strategy.manager", "convene_panel", panel_date=str(WorkingDayCalendar().add_working_days(today, 1)),
              invited_agencies=["education"])
    member = await api.get(f"/api/cases/{reference}", headers=await api.as_user("agency.education"))
    seen = member.text
    assert member.status_code == 200 and '"sin_agreed":"notify"' in seen.replace(" ", "")
    for text in ("CSC-RATIONALE-9", "POLICE-VIEW-9", "HEALTH-VIEW-9"):
        assert text not in seen, f"an agency member reads {text}"
    timeline = (await api.get(f"/api/cases/{reference}/timeline", headers=await api.as_user("agency.education")))
    assert "POLICE-VIEW-9" not in timeline.text and "CSC-RATIONALE-9" not in timeline.text


async def test_the_awareness_date_is_corrected_after_the_notification_and_the_record_reissued(driver, settings):
    """Panel FAQ and s16C: the 5 working days run from awareness. A date found wrong after the notification is
    corrected with a reason (audited); the notification is judged again and its record re-issued with it."""
    from records.object_store import read_stored

    state = await driver.to_panel_preparation()  # aware yesterday, notified today: in time
    assert deadline(state, "notification")["status"] == "met"
    today = await driver.today()
    before = deadline(state, "notification")["due"]
    earlier = date.fromisoformat((await driver.state())["referral"]["incident_date"])  # aware on the day itself
    refused = await driver.rejected("correct_awareness_date", "csc", awareness_date=str(today + timedelta(days=1)),
                                    reason="typo")
    assert "is in the future" in refused
    state = await driver.act("correct_awareness_date", "csc", awareness_date=str(earlier),
                             reason="Police told CSC on the day of the incident; the referral came later.")
    assert state["stage"] == "panel_preparation" and state["awareness_date"] == str(earlier)
    notification = deadline(state, "notification")
    # Counted again from the new date (on a weekend, a day earlier may still end on the same working day).
    assert notification["due"] == str(WorkingDayCalendar().add_working_days(earlier, 5)) <= before
    assert notification["met_on"] == str(today)
    assert notification["status"] == ("met" if today <= date.fromisoformat(notification["due"]) else "missed")
    records = sorted((d for d in await driver.documents() if d.kind == "notification_record"), key=lambda d: d.version)
    assert [d.version for d in records] == [1, 2]
    reissued = read_stored(settings.document_store(), records[1].html_path).decode()
    assert str(earlier) in reissued or f"{earlier.day} {earlier:%B %Y}" in reissued
    refused = await driver.rejected("correct_awareness_date", "bu", awareness_date=str(earlier), reason="x")
    assert "may not take 'correct_awareness_date'" in refused
