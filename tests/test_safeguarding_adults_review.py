"""The Safeguarding Adults Review, the third review type (Care Act 2014 s44): referred through the API and its page,
the criteria decided by the SAB's three statutory members with their reasons, commissioned, its report signed off
by the three and published; shown on the board and its case page in the adults' board's words."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta

from sqlmodel import Session, select

from engine.calendar import london_date
from records.models import CaseRecord, Document, Task
from tests.cases import store_history

REFERRAL = {"pseudonym": "Mr A", "summary": "Died at home; concerns about missed care visits.", "adult_died": True,
            "needs_for_care_and_support": True, "referring_agency": "police"}


async def refer(api, bu: dict, concern_date) -> str:
    started = await api.post("/api/review-types/safeguarding_adults_review/cases", headers=bu,
                             json={**REFERRAL, "concern_date": concern_date.isoformat()})
    assert started.status_code == 201, started.text
    assert started.json()["state"]["stage"] == "sar_criteria"
    return started.json()["reference"]


async def view(api, reference: str, seat: str, outcome: str) -> dict:
    answer = await api.post(f"/api/cases/{reference}/actions/give_sar_criteria_view",
                            headers=await api.as_user(f"exec.{seat}"),
                            json={"outcome": outcome, "reasons": f"The {seat} partner's reasons"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def sign(api, reference: str, seat: str, version: int, decision: str, **more) -> dict:
    answer = await api.post(f"/api/cases/{reference}/actions/sign_off_sar_report",
                            headers=await api.as_user(f"exec.{seat}"),
                            json={"version": version, "decision": decision, **more})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_criteria_decided_then_the_review_commissioned_signed_off_and_published(api, case_env, engine):
    today = london_date(await case_env.get_current_time())
    bu = await api.as_user("strategy.manager")
    ahead = await api.post("/api/review-types/safeguarding_adults_review/cases", headers=bu,
                           json={**REFERRAL, "concern_date": (today + timedelta(days=1)).isoformat()})
    assert ahead.status_code == 422 and "concern_date cannot be in the future" in ahead.json()["detail"]
    reference = await refer(api, bu, today - timedelta(days=3))
    assert reference.startswith("SAR-")
    first = await api.get(f"/api/cases/{reference}", headers=bu)
    deadline = next(d for d in first.json()["deadlines"] if d["key"] == "criteria_decision")
    assert deadline["rule"].endswith("(local setting)") and "s44 sets no time" in deadline["rule"]

    not_theirs = await api.post(f"/api/cases/{reference}/actions/give_sar_criteria_view", headers=bu,
                                json={"outcome": "mandatory", "reasons": "x"})
    assert not_theirs.status_code == 403, "the criteria are the three members' decision"
    await view(api, reference, "la", "mandatory")
    state = await view(api, reference, "icb", "discretionary")
    state = await view(api, reference, "police", "mandatory")
    assert state["stage"] == "sar_criteria" and state["decision"] is None, "the partners disagree: not decided"
    state = await view(api, reference, "icb", "mandatory")  # the ICB gives its view again
    assert (state["stage"], state["decision"]) == ("sar_commissioning", "mandatory")
    assert sorted((v["seat"], v["reasons"]) for v in state["views"]) == [
        ("icb", "The icb partner's reasons"), ("la", "The la partner's reasons"),
        ("police", "The police partner's reasons")]
    assert next(d for d in state["deadlines"] if d["key"] == "criteria_decision")["status"] == "met"

    commission = {"reviewer": "An independent reviewer", "methodology": "Learning together",
                  "terms_of_reference": "How the agencies shared what they knew"}
    future = await api.post(f"/api/cases/{reference}/actions/commission_sar", headers=bu,
                            json={**commission, "commissioned_on": (today + timedelta(days=2)).isoformat()})
    assert future.status_code == 409 and "in the future" in future.json()["detail"]
    await api.sign_in_page("strategy.manager")
    page = await api.get(f"/cases/{reference}")
    assert '<strong data-testid="stage">SAR commissioning</strong>' in page.text
    assert "Commission the Safeguarding Adults Review" in page.text
    board = await api.get("/board")
    card = board.text.split('id="col-sar_commissioning"', 1)[1].split("</section>", 1)[0]
    assert reference in card and "Next milestone</dt>" in card, "a local clock is not said to be statutory"
    done = await api.post(f"/api/cases/{reference}/actions/commission_sar", headers=bu,
                          json={**commission, "commissioned_on": today.isoformat()})
    assert done.status_code == 200, done.text
    assert done.json()["stage"] == "sar_review" and done.json()["commission"]["reviewer"] == "An independent reviewer"

    with Session(engine) as session:
        record = session.get(CaseRecord, reference)
        assert (record.stage, record.outcome) == ("sar_review", "a mandatory SAR (Care Act 2014 s44(1)-(3))")
        tasks = sorted((t.title, t.assignee_seat, t.status)
                       for t in session.exec(select(Task).where(Task.case_reference == reference)))
        criteria = "Are the criteria for a Safeguarding Adults Review met?"
        assert tasks == [(criteria, "icb", "done"), (criteria, "la", "done"), (criteria, "police", "done"),
                         ("Commission the Safeguarding Adults Review", None, "done")]
        record = session.exec(select(Document).where(Document.case_reference == reference,
                                                     Document.kind == "sar_criteria_decision")).one()
    # The board's record of its decision: each member's view with its reasons, for the partners only.
    sheet = await api.get(f"/api/documents/{record.id}?format=html", headers=bu)
    assert sheet.status_code == 200 and "The icb partner" in sheet.text and "a mandatory SAR" in sheet.text
    agency = await api.get(f"/api/documents/{record.id}?format=html", headers=await api.as_user("agency.education"))
    assert agency.status_code in (403, 404), "the members' reasoning is not an agency's to read"

    # The report, the board's three-way sign-off (a return sends it back for a new version), then publication.
    report = {"received_on": today.isoformat(), "findings": "Visits were missed and not escalated",
              "recommendations": ["Escalate missed visits within a day"]}
    assert (await api.post(f"/api/cases/{reference}/actions/submit_sar_report", headers=bu, json=report)
            ).json()["stage"] == "sar_sign_off"
    await sign(api, reference, "la", 1, "approve")
    returned = await sign(api, reference, "icb", 1, "return", comments="Say what the GP knew")
    assert returned["stage"] == "sar_review"
    again = await api.post(f"/api/cases/{reference}/actions/submit_sar_report", headers=bu,
                           json={**report, "findings": "Visits were missed; the GP was not told"})
    assert again.json()["report_version"] == 2
    await sign(api, reference, "la", 2, "approve")
    await sign(api, reference, "icb", 2, "approve")
    await api.sign_in_page("exec.police")  # the third approval from the case page's own form
    page = await api.get(f"/cases/{reference}")
    assert 'name="version" value="2"' in page.text, "the form signs the version in front of the board"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    signed = await api.post(f"/cases/{reference}/actions/sign_off_sar_report",
                            data={"csrf_token": csrf, "version": "2", "decision": "approve"})
    assert signed.status_code == 303, signed.text
    published = await api.post(f"/api/cases/{reference}/actions/publish_sar", headers=bu,
                               json={"published_on": today.isoformat(), "where": "https://sab.example.org/sars"})
    assert published.status_code == 200 and published.json()["stage"] == "closed", published.text
    if os.environ.get("RECORD_HISTORIES"):  # a stored history for tests/test_replay.py (see tests/cases.py)
        history = await case_env.client.get_workflow_handle(reference).fetch_history()
        store_history("sar_published", reference, history)
    with Session(engine) as session:
        assert session.get(CaseRecord, reference).closed_reason.startswith("Safeguarding Adults Review published")
        open_tasks = session.exec(select(Task).where(Task.case_reference == reference, Task.status == "open")).all()
        assert open_tasks == []


async def test_criteria_not_met_by_all_three_closes_the_referral_with_the_reason(api, case_env, engine):
    """Referred through its own page this time: its questions are its referral's."""
    today = london_date(await case_env.get_current_time())
    await api.sign_in_page("strategy.manager")
    board = await api.get("/board")
    assert '<a href="/review-types/safeguarding_adults_review/new">refer a Safeguarding Adults Review</a>' in board.text
    page = await api.get("/review-types/safeguarding_adults_review/new")
    assert page.status_code == 200 and "New referral: Safeguarding Adults Review" in page.text
    form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1),
            "pseudonym": "Mrs B", "summary": "A fall at a care home", "needs_for_care_and_support": "true",
            "referring_agency": "Ambulance service", "concern_date-day": str(today.day),
            "concern_date-month": str(today.month), "concern_date-year": str(today.year + 1)}
    refused = await api.post("/review-types/safeguarding_adults_review/new", data=form)
    assert refused.status_code == 422 and 'value="Mrs B"' in refused.text, "the form again, as typed"
    sent = await api.post("/review-types/safeguarding_adults_review/new",
                          data={**form, "concern_date-year": str(today.year)})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/cases/SAR-"), sent.text
    reference = sent.headers["location"].split("/")[2].split("?")[0]
    for seat in ("la", "icb", "police"):
        state = await view(api, reference, seat, "not_met")
    assert state["stage"] == "closed" and "criteria for a SAR are not met" in state["closed_reason"]
    with Session(engine) as session:
        assert session.get(CaseRecord, reference).stage == "closed"


async def test_a_criteria_decision_past_its_local_deadline_is_escalated_and_then_needs_a_reason(api, case_env,
                                                                                                 engine):
    """The SAR's clocks are the engine's: a missed local deadline escalates to the business unit and the members,
    and the next action says why it is late (time skipped on the test server)."""
    today = london_date(await case_env.get_current_time())
    bu = await api.as_user("strategy.manager")
    reference = await refer(api, bu, today)
    await case_env.sleep(timedelta(days=40))  # past the 20 working days the referral's decision had
    for _ in range(200):  # the escalation's step may still be on its way to the database
        with Session(engine) as session:
            escalations = session.exec(select(Task).where(Task.case_reference == reference,
                                                          Task.kind == "escalation")).all()
            late = session.get(CaseRecord, reference).late
        if escalations:
            break
        await asyncio.sleep(0.05)
    assert sorted(t.assignee_role for t in escalations) == ["business_unit", "executive"] and late
    state = (await api.get(f"/api/cases/{reference}", headers=bu)).json()
    assert next(d for d in state["deadlines"] if d["key"] == "criteria_decision")["status"] == "missed"
    unexplained = await api.post(f"/api/cases/{reference}/actions/give_sar_criteria_view",
                                 headers=await api.as_user("exec.la"), json={"outcome": "mandatory", "reasons": "x"})
    assert unexplained.status_code == 409 and "reason for the delay" in unexplained.json()["detail"]
    explained = await api.post(f"/api/cases/{reference}/actions/give_sar_criteria_view",
                               headers=await api.as_user("exec.la"),
                               json={"outcome": "mandatory", "reasons": "x", "delay_reason": "Inquest awaited"})
    assert explained.status_code == 200, explained.text
