"""A case driven through the API alone, as the people in the brief would; errors are plain 4xx."""

from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from service.app import create_app
from service.models import AuditEvent, Task
from workflows.calendar import WorkingDayCalendar, london_date


@pytest.fixture
async def api(case_env, case_worker, settings, engine, demo_passwords):
    app = create_app(settings.model_copy(update={"temporal_task_queue": case_worker}), case_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        async def as_user(username: str) -> dict:
            response = await client.post("/api/auth/token",
                                         data={"username": username, "password": demo_passwords[username]})
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        client.as_user = as_user
        yield client


async def test_case_through_the_api_to_national_panel(api, case_env, engine):
    today = london_date(await case_env.get_current_time())
    bu = await api.as_user("strategy.manager")
    created = await api.post("/api/cases", headers=await api.as_user("agency.police"), json={
        "pseudonym": "Julie", "age_band": "under 1", "summary": "Infant harmed.", "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "police"})
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    assert reference.startswith(f"RR-{today.year}-")

    async def act(username, action, **body):
        return await api.post(f"/api/cases/{reference}/actions/{action}", headers=await api.as_user(username),
                              json=body)

    assert (await act("strategy.manager", "accept_referral")).status_code == 200
    response = await act("csc.lead", "record_sin_decision", police_view="p", health_view="h", decision="notify",
                         rationale="r")
    assert response.json()["stage"] == "notification"
    await act("csc.lead", "record_notification", notified_on=str(today), ofsted_reference="OF-1")
    panel_date = WorkingDayCalendar().add_working_days(today, 1)
    response = await act("strategy.manager", "convene_panel", panel_date=str(panel_date),
                         invited_agencies=["education"])
    assert response.status_code == 200, response.text

    listed = await api.get("/api/cases", headers=bu)
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["stage"] == "panel_preparation"
    health = await api.as_user("agency.health")
    assert (await api.get("/api/cases", headers=health)).json()["total"] == 0, "not invited: not listed"
    assert (await api.get(f"/api/cases/{reference}", headers=health)).status_code == 404
    education = await api.as_user("agency.education")
    assert (await api.get("/api/cases", headers=education)).json()["total"] == 1
    assert (await act("agency.education", "submit_information_return", involvement="a", chronology="b",
                      analysis="c")).status_code == 200
    await case_env.sleep(timedelta(days=1))
    held = london_date(await case_env.get_current_time())
    await act("panel.chair", "record_panel_outcome", held_on=str(held), attendees=["Chair"], learning="l",
              recommendation="local_cspr", rationale="r")
    response = await act("panel.chair", "issue_decision_sheet", circumstances="c", local_review_criteria_met=True)
    assert response.json()["stage"] == "executive_sign_off"
    for seat in ("exec.la", "exec.icb", "exec.police"):
        response = await act(seat, "sign_off", version=1, decision="approve")
    assert response.json()["stage"] == "national_panel"
    state = await api.get(f"/api/cases/{reference}", headers=await api.as_user("auditor"))
    assert state.status_code == 200
    rapid_review = next(d for d in state.json()["deadlines"] if d["key"] == "rapid_review")
    assert rapid_review["status"] == "open" and "15 working days" in rapid_review["rule"]
    assert (await api.get(f"/api/cases/{reference}", headers=await api.as_user("admin"))).status_code == 403
    with Session(engine) as session:
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference))]
    assert "read_case" in actions and "sign_off" in actions and "submit_referral" in actions


async def test_bad_actions_are_clear_4xx_and_change_nothing(api, case_env, engine):
    today = london_date(await case_env.get_current_time())
    created = await api.post("/api/cases", headers=await api.as_user("strategy.manager"), json={
        "pseudonym": "Kai", "age_band": "5-9", "summary": "s", "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "education"})
    reference = created.json()["reference"]
    bu = await api.as_user("strategy.manager")
    with Session(engine) as session:
        tasks_before = [(t.key, t.status) for t in session.exec(select(Task))]

    unknown = await api.post(f"/api/cases/{reference}/actions/launch_rocket", headers=bu, json={})
    assert unknown.status_code == 404 and "Unknown action" in unknown.json()["detail"]
    wrong_role = await api.post(f"/api/cases/{reference}/actions/accept_referral",
                                headers=await api.as_user("panel.chair"), json={})
    assert wrong_role.status_code == 403 and "may not take" in wrong_role.json()["detail"]
    malformed = await api.post(f"/api/cases/{reference}/actions/decline_referral", headers=bu, json={"reason": ""})
    assert malformed.status_code == 422 and "reason" in malformed.json()["detail"]
    forged = await api.post(f"/api/cases/{reference}/actions/accept_referral", headers=bu,
                            json={"actor": {"user_id": 1, "name": "x", "role": "business_unit"}})
    assert forged.status_code == 422
    oversized = await api.post(f"/api/cases/{reference}/actions/decline_referral", headers=bu,
                               json={"reason": "x" * 5000})
    assert oversized.status_code == 422
    wrong_stage = await api.post(f"/api/cases/{reference}/actions/convene_panel", headers=bu,
                                 json={"panel_date": str(today + timedelta(days=7)), "invited_agencies": ["police"]})
    assert wrong_stage.status_code == 409 and "stage 'referral'" in wrong_stage.json()["detail"]
    future = await api.post("/api/cases", headers=bu, json={
        "pseudonym": "K", "age_band": "5-9", "summary": "s", "incident_date": str(today),
        "awareness_date": str(today + timedelta(days=3)), "referring_agency": "education"})
    assert future.status_code == 422 and "in the future" in future.json()["detail"]
    with Session(engine) as session:
        assert [(t.key, t.status) for t in session.exec(select(Task))] == tasks_before
    state = await api.get(f"/api/cases/{reference}", headers=bu)
    assert state.json()["stage"] == "referral"
