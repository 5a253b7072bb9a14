"""One incident, two reviews (issue 30, items 4 and 5): a rapid review and a Safeguarding Adults Review linked by the
business unit with the three partners' agreement to share; an agency's return sent once on the rapid review counts on
the SAR, shown as shared to those who may read both cases only. The SAR's own agency returns, its recommendations in
the one action plan (with those the board declined and why), and its account for the SAB's annual report (Care Act
2014 Sch. 2 para 4(1)(d)-(g)), through the API and the pages; the new pages in Chromium with axe."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import expect
from sqlmodel import Session, select

from engine.calendar import london_date
from records.models import AuditEvent, PlanAction, Task
from tests import test_web, test_web_pages
from tests.cases import store_history
from tests.test_panel_pack import tiny_pdf
from tests.test_safeguarding_adults_review import REFERRAL, refer, sign, view

site, browser, sign_in_as = test_web.site, test_web.browser, test_web.sign_in_as
SHARING = {"share_returns": True, "sharing_decision": "Executive meeting of 4 December"}
RETURN = {"involvement": "Known to the school until he left care at 18.",
          "chronology": "1 March 2026: left the placement", "analysis": "The move to adult services was not planned."}


async def sar_in_review(api) -> str:
    """A SAR referred, decided mandatory by the three members and commissioned: it can ask for information."""
    bu = await api.as_user("strategy.manager")
    today = london_date(await api.engine_now())
    reference = await refer(api, bu, today - timedelta(days=3))
    for seat in ("la", "icb", "police"):
        await view(api, reference, seat, "mandatory")
    done = await api.post(f"/api/cases/{reference}/actions/commission_sar", headers=bu, json={
        "reviewer": "An independent reviewer", "methodology": "Learning together",
        "terms_of_reference": "How the agencies shared what they knew", "commissioned_on": today.isoformat()})
    assert done.json()["stage"] == "sar_review", done.text
    return reference


@pytest.fixture
def sar_api(api, case_env):
    async def engine_now():
        return await case_env.get_current_time()
    api.engine_now = engine_now
    return api


async def test_a_return_sent_once_on_the_rapid_review_counts_on_the_linked_sar(sar_api, driver, engine, case_env):
    api = sar_api
    await driver.to_panel_preparation()
    rr, sar = driver.reference, await sar_in_review(api)
    bu, education = await api.as_user("strategy.manager"), await api.as_user("agency.education")

    # The rapid review asks the school and the police; the SAR asks the school, the police and community health.
    convened = await api.post(f"/api/cases/{rr}/actions/convene_panel", headers=bu, json={
        "panel_date": await driver.next_working_day(), "invited_agencies": ["education", "police"]})
    assert convened.status_code == 200, convened.text
    asked = await api.post(f"/api/cases/{sar}/actions/request_sar_information", headers=bu, json={
        "agencies": ["education", "police", "community_health"],
        "questions": ["How was the move to adult services planned?"]})
    assert asked.status_code == 200, asked.text
    # The school writes its return once, on the rapid review: not linked yet, so nothing is shared.
    sent = await api.post(f"/api/cases/{rr}/actions/submit_information_return", headers=education, json=RETURN)
    assert sent.status_code == 200, sent.text
    assert (await api.get(f"/api/cases/{sar}", headers=bu)).json()["returns"] == {}
    await api.sign_in_page("agency.education")  # and attaches its chronology as a file beside it
    page = await api.get(f"/cases/{rr}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    chronology = tiny_pdf("Education chronology")
    attached = await api.post(f"/cases/{rr}/chronology", data={"csrf_token": csrf},
                              files={"chronology": ("chronology.pdf", chronology, "application/pdf")})
    assert attached.status_code == 303 and "done=upload_chronology" in attached.headers["location"], attached.text

    # Linking is the business unit's; sharing is proposed, and in force once each seat's executive agrees.
    assert (await api.post(f"/api/cases/{rr}/links", headers=education,
                           json={"linked_reference": sar, "reason": "One incident"})).status_code == 403
    itself = await api.post(f"/api/cases/{sar}/links", headers=bu, json={"linked_reference": sar, "reason": "x"})
    assert itself.status_code == 422
    forged = await api.post(f"/api/cases/{rr}/links", headers=bu, json={
        "linked_reference": sar, "reason": "x", **SHARING, "agreed_by_seats": ["la", "icb", "police"]})
    assert forged.status_code == 422 and "agreed_by_seats" in forged.text, "nobody records another's agreement"
    assert (await api.get(f"/api/cases/{sar}", headers=bu)).json()["links"] == [], "nothing linked by a refusal"
    made = await api.post(f"/api/cases/{rr}/links", headers=bu,
                          json={"linked_reference": sar, "reason": "A care leaver's death", **SHARING})
    assert made.status_code == 201, made.text
    assert (made.json()["reference"], made.json()["sharing_proposed"], made.json()["sharing_agreed"]) == (
        sar, True, False)
    assert made.json()["sharing_awaiting"] == ["la", "icb", "police"]
    again = await api.post(f"/api/cases/{sar}/links", headers=bu, json={"linked_reference": rr, "reason": "again"})
    assert again.status_code == 409
    agree = f"/api/cases/{rr}/links/{sar}/agree-to-share"
    assert (await api.post(agree, headers=bu)).status_code == 403, "the business unit cannot agree for a seat"
    for seat in ("la", "icb"):
        agreed = await api.post(agree, headers=await api.as_user(f"exec.{seat}"))
        assert agreed.status_code == 200 and not agreed.json()["sharing_agreed"], agreed.text
    twice = await api.post(agree, headers=await api.as_user("exec.la"))
    assert twice.status_code == 409, "one agreement a seat"
    assert (await api.get(f"/api/cases/{sar}", headers=bu)).json()["returns"] == {}, "two seats of three: not shared"
    agreed = await api.post(agree, headers=await api.as_user("exec.police"))
    assert agreed.json()["sharing_agreed"] and agreed.json()["sharing_awaiting"] == [], agreed.text
    assert agreed.json()["sharing_agreed_by"] == ["Integrated Care Board", "Local authority", "Police"]

    # Linked with sharing: the school's return counts on the SAR at once, shared from the rapid review; the police's,
    # sent on the rapid review after the link, counts there as it is sent.
    police = await api.as_user("agency.police")
    sent = await api.post(f"/api/cases/{rr}/actions/submit_information_return", headers=police, json={
        "involvement": "Two welfare checks in 2026.", "chronology": "2 April 2026: welfare check",
        "analysis": "No concern was passed on."})
    assert sent.status_code == 200, sent.text
    state = (await api.get(f"/api/cases/{sar}", headers=bu)).json()
    assert state["shared_returns"] == {"education": rr, "police": rr}
    assert sorted(state["returns"]) == ["education", "police"]
    assert [link["reference"] for link in state["links"]] == [rr]
    with Session(engine) as session:
        tasks = {t.assignee_agency: (t.status, t.outcome) for t in session.exec(select(Task).where(
            Task.case_reference == sar, Task.action == "submit_sar_information_return"))}
    assert tasks == {"education": ("done", f"shared from {rr}"), "police": ("done", f"shared from {rr}"),
                     "community_health": ("open", None)}, "one return, not two"
    twice = await api.post(f"/api/cases/{sar}/actions/submit_sar_information_return", headers=education, json=RETURN)
    assert twice.status_code == 409 and "already came" in twice.json()["detail"]
    shared = (await api.get(f"/api/cases/{sar}/shared-returns", headers=education)).json()
    assert [(r["agency"], r["shared_from"], r["analysis"]) for r in shared] == [("education", rr, RETURN["analysis"])]

    # Community health, asked by the SAR only, cannot read the rapid review: no link, no shared return.
    health = await api.as_user("agency.health")
    assert (await api.get(f"/api/cases/{rr}", headers=health)).status_code == 404
    seen = (await api.get(f"/api/cases/{sar}", headers=health)).json()
    assert seen["links"] == [] and seen["shared_returns"] == {} and sorted(seen["returns"]) == ["education", "police"]
    timeline = (await api.get(f"/api/cases/{sar}/timeline", headers=health)).text
    assert rr not in timeline and "link_cases" not in timeline, "the timeline does not tell of the other case"
    assert (await api.get(f"/api/cases/{sar}/shared-returns", headers=health)).json() == []
    # ... and it returns its own information on the SAR (the same return, kept in the same table); what it tells
    # the adults' board is not read on the rapid review (Care Act 2014 s45(6)), nor anything the SAR did not ask.
    own = await api.post(f"/api/cases/{sar}/actions/submit_sar_information_return", headers=health,
                         json={"involvement": "District nurse visits.", "chronology": "5 May 2026: visit missed",
                               "analysis": "The missed visit was not followed up."})
    assert own.status_code == 200, own.text
    assert next(d for d in own.json()["deadlines"] if d["key"] == "agency_returns")["status"] == "met"
    assert (await api.get(f"/api/cases/{rr}/shared-returns", headers=bu)).json() == []

    # The SAR's page: the school's return shown as shared from the rapid review and counted; the read audited.
    await api.sign_in_page("strategy.manager")
    page = (await api.get(f"/cases/{sar}")).text
    shared_line = re.search(r'data-testid="shared-from-education">(.*?)</span>', page, re.S)
    assert shared_line and f'href="/cases/{rr}"' in shared_line.group(1)
    assert RETURN["analysis"] in page and "The missed visit was not followed up." in page
    assert "use_shared_return-form" not in page, "the service counts a shared return; nobody types it"
    assert 'data-testid="case-links"' in page and "Executive meeting of 4 December" in page
    file = re.search(r'href="(/api/documents/\d+\?format=pdf)" data-testid="shared-chronology-education"', page)
    assert file and (await api.get(file.group(1))).content == chronology, "the school's chronology file, shared"
    assert f'href="/cases/{sar}"' in (await api.get(f"/cases/{rr}")).text, "shown on both cases"
    with Session(engine) as session:
        reads = [json.loads(e.detail) for e in session.exec(select(AuditEvent).where(
            AuditEvent.case_reference == sar, AuditEvent.action == "read_information_returns"))]
        links = session.exec(select(AuditEvent).where(AuditEvent.action == "link_cases")).all()
        read_there = [json.loads(e.detail) for e in session.exec(select(AuditEvent).where(
            AuditEvent.case_reference == rr, AuditEvent.action == "read_information_returns"))]
    assert {"agencies": ["education", "police", "community_health"], "shared_from": [rr]} in reads
    assert {"agencies": ["education", "police"], "read_on": sar} in read_there, "on the trail of the case it came from"
    assert sorted(e.case_reference for e in links) == sorted([rr, sar])
    assert json.loads(links[0].detail)["reason"] == "A care leaver's death"
    api.cookies.clear()
    await api.sign_in_page("agency.health")
    page = (await api.get(f"/cases/{sar}")).text
    assert "The missed visit was not followed up." in page
    assert RETURN["analysis"] not in page and rr not in page, "health reads neither the school's return nor the link"

    # A link is removed by the business unit, saying why: gone from both cases, on both trails; counted stays counted.
    bare = await api.request("DELETE", f"/api/cases/{sar}/links/{rr}", headers=bu, json={"reason": ""})
    assert bare.status_code == 422
    removed = await api.request("DELETE", f"/api/cases/{sar}/links/{rr}", headers=bu,
                                json={"reason": "Linked in error"})
    assert removed.status_code == 204, removed.text
    state = (await api.get(f"/api/cases/{sar}", headers=bu)).json()
    assert state["links"] == [] and sorted(state["returns"]) == ["community_health", "education", "police"]
    assert (await api.get(f"/api/cases/{sar}/shared-returns", headers=bu)).json() == []
    with Session(engine) as session:
        unlinked = session.exec(select(AuditEvent).where(AuditEvent.action == "unlink_cases")).all()
    assert sorted(e.case_reference for e in unlinked) == sorted([rr, sar])
    if os.environ.get("RECORD_HISTORIES"):  # a stored history for tests/test_replay.py (see tests/cases.py)
        history = await case_env.client.get_workflow_handle(sar).fetch_history()
        store_history("sar_shared_returns", sar, history)


async def test_the_sars_recommendations_go_to_the_action_plan_and_its_annual_account(sar_api, engine):
    api = sar_api
    sar = await sar_in_review(api)
    bu = await api.as_user("strategy.manager")
    today = london_date(await api.engine_now())
    asked = await api.post(f"/api/cases/{sar}/actions/request_sar_information", headers=bu,
                           json={"agencies": ["housing"]})
    assert asked.json()["outstanding"][0]["agency"] == "housing", asked.text
    report = {"received_on": today.isoformat(), "findings": "The move to adult services was not planned",
              "recommendations": ["Plan transitions from age 17", "Write a new transitions protocol"]}
    assert (await api.post(f"/api/cases/{sar}/actions/submit_sar_report", headers=bu, json=report)).status_code == 200
    with Session(engine) as session:
        housing = session.exec(select(Task).where(Task.case_reference == sar, Task.assignee_agency == "housing")).one()
        assert (housing.status, housing.outcome) == ("cancelled", "the report came without this return")
    for seat in ("la", "icb", "police"):
        await sign(api, sar, seat, 1, "approve")
    publication = {"published_on": today.isoformat(), "where": "https://sab.example.org/sars"}
    unknown = await api.post(f"/api/cases/{sar}/actions/publish_sar", headers=bu, json={
        **publication, "recommendations_not_implemented": ["3: no such recommendation"]})
    assert unknown.status_code == 409 and "its number (1 to 2)" in unknown.json()["detail"]
    declined = "2: the protocol agreed in 2025 already covers it"
    published = await api.post(f"/api/cases/{sar}/actions/publish_sar", headers=bu, json={
        **publication, "recommendations_not_implemented": [declined]})
    assert published.json()["stage"] == "closed", published.text

    plan = (await api.get("/api/action-plan", headers=bu)).json()
    assert [(p["source"], p["description"]) for p in plan if p["case_reference"] == sar] == [
        ("sar_recommendation", "Plan transitions from age 17")], "the declined one is not an action"
    with Session(engine) as session:
        assert session.exec(select(PlanAction).where(PlanAction.case_reference == sar)).one().status == "open"

    year = today.year if today.month >= 4 else today.year - 1
    assert (await api.get(f"/api/sar-account?year={year}", headers=await api.as_user("agency.education"))
            ).status_code == 403
    account = (await api.get(f"/api/sar-account?year={year}", headers=bu)).json()
    entry = next(e for e in account["concluded"] if e["reference"] == sar)
    assert entry["findings"] == report["findings"] and entry["actions_raised"] == 1
    assert entry["not_implemented"] == [{"recommendation": "Write a new transitions protocol",
                                         "reasons": "the protocol agreed in 2025 already covers it"}]
    assert account["decided_mandatory"] >= 1 and sar not in [e["reference"] for e in account["ongoing"]]
    earlier = (await api.get(f"/api/sar-account?year={year - 1}", headers=bu)).json()
    assert sar not in [e["reference"] for e in earlier["concluded"] + earlier["ongoing"]]
    await api.sign_in_page("strategy.manager")
    page = await api.get(f"/sar-account?year={year}")
    assert "the protocol agreed in 2025 already covers it" in page.text and report["findings"] in page.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not the database
async def test_the_link_page_and_the_sar_account_in_a_browser(driver, sign_in_as, site, demo_passwords):
    test_web.ARTIFACTS.mkdir(exist_ok=True)
    await driver.start()
    async with httpx.AsyncClient(base_url=site) as client:
        token = (await client.post("/api/auth/token", data={
            "username": "strategy.manager", "password": demo_passwords["strategy.manager"]})).json()["access_token"]
        today = await driver.today()
        started = await client.post("/api/review-types/safeguarding_adults_review/cases",
                                    headers={"Authorization": f"Bearer {token}"},
                                    json={**REFERRAL, "concern_date": today.isoformat()})
        sar = started.json()["reference"]
    page = await sign_in_as("strategy.manager")
    await page.goto(f"/cases/{driver.reference}")
    await page.get_by_role("link", name="Link this case to another review").click()
    await test_web_pages.check_page(page, "links-form")
    await page.get_by_label("The other case's reference").fill(sar)
    await page.get_by_label("Why the cases are linked").fill("A care leaver's death")
    await page.get_by_label("Why the cases are linked").fill("")
    await page.get_by_role("button", name="Link the cases").click()
    await expect(page.get_by_test_id("link-error")).to_contain_text("reason")
    await test_web_pages.check_page(page, "links-form-error")
    await page.get_by_label("Why the cases are linked").fill("A care leaver's death")
    await page.get_by_label("Propose sharing to the three partners").check()
    await page.get_by_label("Where and when the partners discussed it").fill("Executive meeting of 4 December")
    await page.get_by_role("button", name="Link the cases").click()
    await expect(page.get_by_test_id("sharing-proposed")).to_contain_text("Still to agree: the Local authority")
    await test_web_pages.check_page(page, "case-linked")
    await page.get_by_role("link", name=sar).first.click()
    await expect(page.get_by_test_id("case-links")).to_contain_text(driver.reference)
    page = await sign_in_as("exec.la")  # the executive agrees for her seat, from the case page
    await page.goto(f"/cases/{driver.reference}")
    await page.get_by_role("button", name="Agree to share for the Local authority").click()
    await expect(page.get_by_test_id("sharing-proposed")).not_to_contain_text("Local authority,")
    await test_web_pages.check_page(page, "case-sharing-agreed-by-one")
    await page.goto("/dashboard")
    await page.get_by_role("link", name="Safeguarding Adults Reviews for the board's annual report").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Safeguarding Adults Reviews, April")
    await test_web_pages.check_page(page, "sar-account")
