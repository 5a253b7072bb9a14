"""A case driven through the API alone, as the people in the brief would; errors are plain 4xx."""

import asyncio
import hashlib
import json
import logging
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from engine.authenticity import sealed
from engine.calendar import WorkingDayCalendar, london_date
from records.idempotency import fingerprint
from records.models import AuditEvent, HistoryArchive, IdempotentRequest, Task
from reviews.rapid_review.models import ProposeSinDecision

PSEUDONYM, SUMMARY = "Julie-Pseudonym", "Infant harmed while in the care of a relative."


async def test_a_whole_case_through_the_api_to_publication(api, case_env, engine, caplog):
    """Referral to publication as the people in the brief do it, each signed in as themselves."""
    caplog.set_level(logging.INFO)
    today = london_date(await case_env.get_current_time())
    created = await api.post("/api/cases", headers=await api.as_user("agency.police"), json={
        "pseudonym": PSEUDONYM, "age_band": "under 1", "summary": SUMMARY, "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "police"})
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    assert reference.startswith(f"RR-{today.year}-")

    async def act(username, action, **body):
        response = await api.post(f"/api/cases/{reference}/actions/{action}", headers=await api.as_user(username),
                                  json=body)
        assert response.status_code == 200, f"{action}: {response.text}"
        return response.json()

    await act("strategy.manager", "accept_referral")
    await act("csc.lead", "propose_sin_decision", decision="notify", rationale="r")
    await act("exec.police", "respond_to_sin_proposal", version=1, view="agree", comments="p")
    state = await act("exec.icb", "respond_to_sin_proposal", version=1, view="agree", comments="h")
    assert state["stage"] == "notification"
    await act("csc.lead", "record_notification", notified_on=str(today), notification_reference="OF-1")
    panel_date = WorkingDayCalendar().add_working_days(today, 1)
    await act("strategy.manager", "convene_panel", panel_date=str(panel_date), invited_agencies=["education"])

    listed = await api.get("/api/cases", headers=await api.as_user("strategy.manager"))
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["stage"] == "panel_preparation"
    health = await api.as_user("agency.health")
    assert (await api.get("/api/cases", headers=health)).json()["total"] == 0, "not invited: not listed"
    assert (await api.get(f"/api/cases/{reference}", headers=health)).status_code == 404
    education = await api.as_user("agency.education")
    assert (await api.get("/api/cases", headers=education)).json()["total"] == 1
    education_tasks = (await api.get("/api/tasks", headers=education)).json()["items"]
    assert [t["kind"] for t in education_tasks] == ["information_return"]
    assert (await api.get("/api/tasks", headers=health)).json()["items"] == []
    await act("agency.education", "submit_information_return", involvement="a", chronology="b", analysis="c")
    await case_env.sleep(timedelta(days=1))
    held = london_date(await case_env.get_current_time())
    await act("panel.chair", "record_panel_outcome", held_on=str(held), attendees=["Chair"], learning="l",
              recommendation="local_cspr", rationale="r")
    state = await act("panel.chair", "issue_decision_sheet", circumstances="c", local_review_criteria_met=True)
    assert state["stage"] == "executive_sign_off"

    for approver in ("exec.la", "exec.icb", "exec.police"):  # each from "My tasks"
        headers = await api.as_user(approver)
        mine = (await api.get("/api/tasks", headers=headers)).json()["items"]
        assert [t["action"] for t in mine] == ["sign_off"], approver
        done = await api.post(f"/api/tasks/{mine[0]['id']}/complete", headers=headers,
                              json={"version": 1, "decision": "approve"})
        assert done.status_code == 200, done.text
        left = (await api.get("/api/tasks", headers=headers)).json()["items"]
        assert [t for t in left if t["action"] == "sign_off"] == [], "the sign-off task is closed"
    state = done.json()
    assert state["stage"] == "methodology", "the partners decided on a local CSPR at sign-off"
    today = london_date(await case_env.get_current_time())
    await act("strategy.manager", "record_submission", submitted_on=str(today))
    await act("strategy.manager", "record_national_panel_response", received_on=str(today), content="Agreed.",
              panel_view="agrees")
    state = await act("exec.la", "choose_methodology", decided_on=str(today), methods=["partner_led_workshop"],
                      reviewer="Independent reviewer", reviewer_kind="independent", lead="Strategy Manager")
    assert state["stage"] == "methodology", "the partners decide how the review takes place: proposed"
    for seat in ("exec.icb", "exec.police"):  # each from their own task
        headers = await api.as_user(seat)
        mine = [t for t in (await api.get("/api/tasks", headers=headers)).json()["items"]
                if t["action"] == "answer_joint_decision"]
        done = await api.post(f"/api/tasks/{mine[0]['id']}/complete", headers=headers,
                              json={"proposed_action": "choose_methodology", "version": 1, "view": "agree"})
        assert done.status_code == 200, done.text
    state = done.json()
    assert state["stage"] == "practice_review"
    await act("strategy.manager", "agree_terms_of_reference", agreed_on=str(today), scope="Six months before harm.")
    await act("strategy.manager", "commission_reviewer", commissioned_on=str(today), reviewer="A. Reviewer")
    await act("strategy.manager", "record_learning_event", kind="practitioner_workshop", held_on=str(today),
              note="n")
    await act("strategy.manager", "submit_draft_report", received_on=str(today))
    await act("strategy.manager", "submit_final_report", received_on=str(today), recommendations=["Audit"])
    for approver in ("exec.la", "exec.icb", "exec.police"):
        review = await act(approver, "sign_off_report", version=1, decision="approve")
    assert review["stage"] == "publication_notice"
    await act("strategy.manager", "send_publication_notice", sent_on=str(today))
    await case_env.sleep(timedelta(days=12))
    published = london_date(await case_env.get_current_time())
    review = await act("strategy.manager", "record_publication", published_on=str(published),
                       link="https://example.org/r")
    assert review["stage"] == "learning_workshop"

    auditor = await api.as_user("auditor")
    state = (await api.get(f"/api/cases/{reference}", headers=auditor)).json()
    assert state["stage"] == "practice_review" and state["practice_review"]["stage"] == "learning_workshop"
    rapid_review = next(d for d in state["deadlines"] if d["key"] == "rapid_review")
    assert rapid_review["status"] == "met" and "15 working days" in rapid_review["rule"]

    documents = (await api.get(f"/api/cases/{reference}/documents", headers=auditor)).json()
    kinds = {d["kind"] for d in documents}
    assert {"decision_sheet", "decision_sheet_signed", "terms_of_reference", "publication_notice"} <= kinds
    sheet = next(d for d in documents if d["kind"] == "decision_sheet")
    pdf = await api.get(sheet["pdf_url"], headers=auditor)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == sheet["pdf_sha256"]
    assert (await api.get(sheet["html_url"], headers=health)).status_code == 404, "health was not invited"

    timeline = (await api.get(f"/api/cases/{reference}/timeline", headers=auditor)).json()
    actions = [entry["action"] for entry in timeline]
    assert actions[0] == "submit_referral" and "record_publication" in actions
    assert actions.count("sign_off") == 3 and not any(a.startswith("read_") for a in actions)
    with_reads = (await api.get(f"/api/cases/{reference}/timeline?include_reads=true", headers=auditor)).json()
    assert any(e["action"] == "read_document" and e["actor_role"] == "auditor" for e in with_reads)

    history = await api.get(f"/api/cases/{reference}/history", headers=auditor)
    assert history.status_code == 200
    workflows = {h["workflow_id"]: h for h in history.json()}
    assert set(workflows) == {reference, f"{reference}-cspr"}
    started = workflows[reference]["events"][0]
    assert started["type"] == "workflow_execution_started"
    assert started["attributes"]["input"]["payloads"][0]["pseudonym"] == PSEUDONYM, "decoded for the auditor"
    markers = [e for e in workflows[reference]["events"] if e["type"] == "marker_recorded"]
    assert markers and "refused" not in json.dumps(markers), "a marker is the engine's own record, not refused"
    refused = [e for e in workflows[reference]["events"] if "refused" in json.dumps(e)]
    assert not refused, refused[:2]
    assert (await api.get(f"/api/cases/{reference}/history", headers=await api.as_user("panel.chair"))
            ).status_code == 403
    with Session(engine) as session:
        archived = session.get(HistoryArchive, reference)
        assert archived is not None and archived.event_count == workflows[reference]["event_count"]
        assert session.get(HistoryArchive, f"{reference}-cspr") is not None
    assert (await api.get("/api/audit/verify", headers=auditor)).json()["intact"] is True

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert reference in logged, "logs carry references"
    assert PSEUDONYM not in logged and SUMMARY not in logged, "logs never carry case content"


async def test_bad_actions_are_clear_4xx_and_change_nothing(api, case_env, engine):
    today = london_date(await case_env.get_current_time())
    created = await api.post("/api/cases", headers=await api.as_user("strategy.manager"), json={
        "pseudonym": "Kai", "age_band": "5-9", "summary": "s", "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "education"})
    reference = created.json()["reference"]
    bu = await api.as_user("strategy.manager")
    with Session(engine) as session:
        tasks_before = [(t.key, t.status) for t in session.exec(select(Task))]
        audit_before = session.exec(select(func.count()).select_from(AuditEvent)).one()

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
        attempts = session.exec(select(AuditEvent.action).where(AuditEvent.id > audit_before,
                                                                AuditEvent.action.like("rejected:%"))).all()
        assert attempts == ["rejected:convene_panel"], "the refused update is audited, nothing else changed"
    state = await api.get(f"/api/cases/{reference}", headers=bu)
    assert state.json()["stage"] == "referral"


async def test_a_retried_request_with_an_idempotency_key_acts_once(api, case_env, engine):
    today = london_date(await case_env.get_current_time())
    bu = await api.as_user("strategy.manager")
    referral = {"pseudonym": "Lee", "age_band": "1-4", "summary": "s", "incident_date": str(today),
                "awareness_date": str(today), "referring_agency": "police"}
    first = await api.post("/api/cases", headers={**bu, "Idempotency-Key": "ref-1"}, json=referral)
    again = await api.post("/api/cases", headers={**bu, "Idempotency-Key": "ref-1"}, json=referral)
    assert first.status_code == again.status_code == 201
    assert again.json()["reference"] == first.json()["reference"] and again.headers["Idempotent-Replayed"] == "true"
    assert (await api.get("/api/cases", headers=bu)).json()["total"] == 1
    reference = first.json()["reference"]
    other = await api.post("/api/cases", headers={**bu, "Idempotency-Key": "ref-1"},
                           json={**referral, "pseudonym": "X"})
    assert other.status_code == 422 and "different request" in other.json()["detail"]

    accept = f"/api/cases/{reference}/actions/accept_referral"
    results = [await api.post(accept, headers={**bu, "Idempotency-Key": "acc-1"}, json={}) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert results[2].json() == results[0].json()

    # The API died after the update took effect and before it answered: the row is in flight, the
    # workflow already has the update. The client's retry gets the answer; the action counts once.
    csc = await api.as_user("csc.lead")
    csc_id = (await api.get("/api/me", headers=csc)).json()["id"]
    with Session(engine) as session:
        session.add(IdempotentRequest(user_id=csc_id, key="sin-1", fingerprint=fingerprint(
            "POST", f"/api/cases/{reference}/actions/propose_sin_decision", SIN)))
        session.commit()
    handle = case_env.client.get_workflow_handle(reference)
    actor = {"user_id": csc_id, "name": "Jordan Reid (CSC lead)", "role": "csc_lead"}
    update_id = f"idem:{csc_id}:sin-1"
    await handle.execute_update("propose_sin_decision", sealed(reference, "propose_sin_decision", update_id,
                                                               ProposeSinDecision(**SIN, actor=actor)), id=update_id)
    retried = await api.post(f"/api/cases/{reference}/actions/propose_sin_decision",
                             headers={**csc, "Idempotency-Key": "sin-1"}, json=SIN)
    assert retried.status_code == 200, retried.text
    assert retried.json()["stage"] == "csc_consultation" and len(retried.json()["sin_proposals"]) == 1
    with Session(engine) as session:
        decided = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference,
                                                        AuditEvent.action == "propose_sin_decision")).all()
        accepted = session.exec(select(AuditEvent).where(AuditEvent.case_reference == reference,
                                                         AuditEvent.action == "accept_referral")).all()
    assert len(decided) == 1 and len(accepted) == 1


SIN = {"decision": "notify", "rationale": "r"}


async def test_a_referral_answers_201_only_when_readable_else_202_with_its_location(case_env, settings, engine,
                                                                                    demo_passwords):
    """With no worker to run the case's first step, the referral is taken (the workflow is started) but cannot
    be read: 202 with the Location to read, not a 201 whose case then answers 404. Once a worker runs the first
    step, the Location answers."""
    import uuid

    import httpx

    from service.app import create_app
    from service.platform.worker import build_worker

    queue = f"idle-{uuid.uuid4().hex[:8]}"
    idle = settings.model_copy(update={"temporal_task_queue": queue, "referral_readable_within_seconds": 0.3})
    app = create_app(idle, case_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        token = await client.post("/api/auth/token", data={"username": "strategy.manager",
                                                           "password": demo_passwords["strategy.manager"]})
        manager = {"Authorization": f"Bearer {token.json()['access_token']}"}
        today = london_date(await case_env.get_current_time())
        taken = await client.post("/api/cases", headers=manager, json={
            "pseudonym": PSEUDONYM, "age_band": "under 1", "summary": SUMMARY, "incident_date": str(today),
            "awareness_date": str(today), "referring_agency": "police"})
        assert taken.status_code == 202, taken.text
        location = taken.headers["Location"]
        assert location == f"/api/cases/{taken.json()['reference']}" and taken.json()["state"] is None
        assert (await client.get(location, headers=manager)).status_code == 404, "not readable yet: hence the 202"
        async with build_worker(case_env.client, idle, engine):
            for _ in range(200):
                readable = await client.get(location, headers=manager)
                if readable.status_code == 200:
                    break
                await asyncio.sleep(0.05)
        assert readable.status_code == 200 and readable.json()["stage"] == "referral"
