"""Each role sees the fields its work needs (a matrix over one real case), and probing leaves a trace.

An invited agency member reads the SIN decision but not the partners' reasoning behind it, and its own
information return but not the other agencies'; the partners, the chair, the Executive and the auditor read
all of it; nobody reads a seal. The returns are case records (a row and a document each): the member reads its
own agency's, the partners read every one.
An uninvited member gets the same 404 for a document of a case it cannot see as for no document at all,
and every refusal is a row in the audit trail.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from engine.calendar import WorkingDayCalendar, london_date
from records.models import AuditEvent, Document, InformationReturn, User
from service.app import create_app

POLICE_VIEW, HEALTH_VIEW, RATIONALE = "POLICE-REASONING-7", "HEALTH-REASONING-7", "CSC-RATIONALE-7"
EDUCATION_RETURN, HEALTH_RETURN = "EDUCATION-RETURN-7", "HEALTH-RETURN-7"
SEES_EVERYTHING = ("strategy.manager", "csc.lead", "panel.chair", "exec.la", "auditor")


@pytest.fixture
async def case(case_env, case_worker, settings, engine, demo_passwords):
    app = create_app(settings.model_copy(update={"temporal_task_queue": case_worker}), case_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        headers = {}
        for username in demo_passwords:
            answer = await client.post("/api/auth/token",
                                       data={"username": username, "password": demo_passwords[username]})
            headers[username] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        today = london_date(await case_env.get_current_time())

        async def act(username, action, **body):
            answer = await client.post(f"/api/cases/{reference}/actions/{action}", headers=headers[username],
                                       json=body)
            assert answer.status_code == 200, f"{action}: {answer.text}"
            return answer.json()

        created = await client.post("/api/cases", headers=headers["strategy.manager"], json={
            "pseudonym": "Child L", "age_band": "1-4", "summary": "Harmed.", "incident_date": str(today),
            "awareness_date": str(today), "referring_agency": "police"})
        reference = created.json()["reference"]
        await act("strategy.manager", "accept_referral")
        await act("csc.lead", "propose_sin_decision", decision="notify", rationale=RATIONALE)
        await act("exec.police", "respond_to_sin_proposal", version=1, view="agree", comments=POLICE_VIEW)
        await act("exec.icb", "respond_to_sin_proposal", version=1, view="agree", comments=HEALTH_VIEW)
        await act("csc.lead", "record_notification", notified_on=str(today), notification_reference="OF-7")
        await act("strategy.manager", "convene_panel", panel_date=str(WorkingDayCalendar().add_working_days(today, 2)),
                  invited_agencies=["education", "community_health"])
        own = await act("agency.education", "submit_information_return", involvement=EDUCATION_RETURN,
                        chronology="c", analysis="a")
        await act("agency.health", "submit_information_return", involvement=HEALTH_RETURN, chronology="c",
                  analysis="a")
        assert RATIONALE not in json.dumps(own), "even the answer to the member's own action withholds it"
        await case_env.sleep(timedelta(seconds=1))
        for _ in range(200):  # the returns' documents are issued after the answer, as the state says
            if not (await case_env.client.get_workflow_handle(reference).query("state"))["documents_in_preparation"]:
                break
            await asyncio.sleep(0.05)
        client.headers_for, client.reference = headers, reference
        yield client


async def _seen(client, username: str) -> str:
    """Everything this user reads of the case through the API, as one text."""
    headers, reference = client.headers_for[username], client.reference
    state = await client.get(f"/api/cases/{reference}", headers=headers)
    timeline = await client.get(f"/api/cases/{reference}/timeline", headers=headers)
    documents = await client.get(f"/api/cases/{reference}/documents", headers=headers)
    assert state.status_code == timeline.status_code == documents.status_code == 200, username
    return json.dumps([state.json(), timeline.json(), documents.json()])


async def test_each_role_sees_what_its_work_needs(case):
    for username in SEES_EVERYTHING:
        seen = await _seen(case, username)
        for text in (POLICE_VIEW, HEALTH_VIEW, RATIONALE, '"sin_decision"'):
            assert text in seen, f"{username} should read {text}"
        assert '"seal"' not in seen, f"{username} is shown a seal"
    member = await _seen(case, "agency.education")
    assert '"decision": "notify"' in member and '"sin_agreed": "notify"' in member, "the member reads the decision"
    for text in (POLICE_VIEW, HEALTH_VIEW, RATIONALE, HEALTH_RETURN, '"kind": "sin_decision"', '"seal"'):
        assert text not in member, f"an agency member reads {text}"


async def test_documents_of_unseen_cases_and_refusals_are_alike_and_audited(case, engine, demo_passwords):
    with Session(engine) as session:
        sin_document = session.exec(select(Document).where(Document.case_reference == case.reference,
                                                           Document.kind == "sin_decision")).one()
        police_member = session.exec(select(User).where(User.username == "agency.police")).one()
    missing = await case.get("/api/documents/999999", headers=case.headers_for["agency.police"])
    unseen_case = await case.get(f"/api/documents/{sin_document.id}", headers=case.headers_for["agency.police"])
    partner_only = await case.get(f"/api/documents/{sin_document.id}", headers=case.headers_for["agency.education"])
    assert missing.status_code == unseen_case.status_code == partner_only.status_code == 404
    assert unseen_case.json()["detail"] == f"No document {sin_document.id} that you can see"
    assert case.reference not in unseen_case.text, "the answer does not say which case the document is in"
    probing = await case.get(f"/api/cases/{case.reference}", headers=case.headers_for["agency.police"])
    assert probing.status_code == 404
    with Session(engine) as session:
        denied = session.exec(select(AuditEvent).where(AuditEvent.action == "denied",
                                                       AuditEvent.actor_id == police_member.id)).all()
    paths = [json.loads(row.detail)["path"] for row in denied]
    assert f"/api/cases/{case.reference}" in paths and f"/api/documents/{sin_document.id}" in paths
    assert all(json.loads(row.detail)["status"] == 404 for row in denied)
    assert [row.case_reference for row in denied if case.reference in json.loads(row.detail)["path"]] == [
        case.reference], "the refusal is filed under the case it named"

    listed = await case.get(f"/api/cases/{case.reference}/audit?outcome=denied", headers=case.headers_for["auditor"])
    assert listed.status_code == 200
    assert [(e["actor_role"], e["detail"]["path"]) for e in listed.json()] == [
        ("agency_member", f"/api/cases/{case.reference}")], "the case's auditor is shown who was refused it"
    for username in ("agency.education", "strategy.manager"):  # readers of the case do not see others' refusals
        timeline = await case.get(f"/api/cases/{case.reference}/timeline", headers=case.headers_for[username])
        assert timeline.status_code == 200 and "denied" not in {e["action"] for e in timeline.json()}
    refused = await case.get(f"/api/cases/{case.reference}/audit", headers=case.headers_for["strategy.manager"])
    assert refused.status_code == 403, "the case's audit listing is the auditor's"
    form = await case.get("/signin")  # the auditor's page of the case lists the refusal too
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    await case.post("/signin", data={"username": "auditor", "password": demo_passwords["auditor"], "csrf_token": csrf})
    page = await case.get(f"/audit/{case.reference}")
    assert page.status_code == 200 and "was refused a page or request" in page.text


async def test_information_returns_are_kept_and_each_agency_reads_its_own(case, engine):
    with Session(engine) as session:
        kept = {r.agency: r.involvement for r in session.exec(
            select(InformationReturn).where(InformationReturn.case_reference == case.reference))}
        documents = {d.kind: d.id for d in session.exec(select(Document).where(
            Document.case_reference == case.reference, Document.kind.like("information_re%")))}
    assert kept == {"education": EDUCATION_RETURN, "community_health": HEALTH_RETURN}
    assert set(documents) == {f"information_{what}_{agency}" for what in ("request", "return")
                              for agency in ("education", "community_health")}

    async def read(username, kind):
        return await case.get(f"/api/documents/{documents[kind]}?format=html", headers=case.headers_for[username])

    own = await read("agency.education", "information_return_education")
    assert own.status_code == 200 and EDUCATION_RETURN in own.text
    assert (await read("agency.education", "information_return_community_health")).status_code == 404
    # Another agency's request is not theirs either: it says what the Panel asked that agency (issue 27, item 7).
    assert (await read("agency.education", "information_request_education")).status_code == 200
    assert (await read("agency.education", "information_request_community_health")).status_code == 404
    listed = await case.get(f"/api/cases/{case.reference}/documents", headers=case.headers_for["agency.education"])
    assert "information_return_community_health" not in listed.text and "information_return_education" in listed.text
    assert "information_request_community_health" not in listed.text
    chair = await read("panel.chair", "information_return_community_health")
    assert chair.status_code == 200 and HEALTH_RETURN in chair.text
