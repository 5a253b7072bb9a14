"""Who may do what: every role on every route (generated from the route table), every role on every action,
sign-in throttling, session cookies with CSRF, and an audit chain that shows an edit and a deletion."""

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from engine.calendar import london_date
from records.models import CaseRecord, Document, Task
from service.accounts.auth import SESSION_COOKIE
from service.accounts.users import DEMO_ACCOUNTS
from service.api.routes import route_table
from service.app import create_app
from service.cases.case_service import ACTIONS
from tests.insider import as_table_owner

USER_OF_ROLE = {}
for account in DEMO_ACCOUNTS:
    USER_OF_ROLE.setdefault(str(account.role), account.username)


@pytest.fixture
async def world(case_env, case_worker, settings, engine, demo_passwords):
    """The app, a signed-in client per role, and a case (with a document and a task) the routes can name."""
    app = create_app(settings.model_copy(update={"temporal_task_queue": case_worker}), case_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        headers = {}
        for role, username in USER_OF_ROLE.items():
            response = await client.post("/api/auth/token",
                                         data={"username": username, "password": demo_passwords[username]})
            headers[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        today = london_date(await case_env.get_current_time())
        created = await client.post("/api/cases", headers=headers["business_unit"], json={
            "pseudonym": "Mo", "age_band": "5-9", "summary": "s", "incident_date": str(today),
            "awareness_date": str(today), "referring_agency": "police"})
        reference = created.json()["reference"]
        await client.post(f"/api/cases/{reference}/actions/accept_referral", headers=headers["business_unit"],
                          json={})
        for _ in range(100):  # documents are rendered by an activity after the update has answered
            with Session(engine) as session:
                document = session.exec(select(Document).where(Document.case_reference == reference)).first()
                task = session.exec(select(Task).where(Task.case_reference == reference,
                                                       Task.status == "open")).first()
            if document and task:
                break
            await asyncio.sleep(0.1)
        client.app, client.headers_of, client.reference = app, headers, reference
        client.path_values = {"reference": reference, "document_id": str(document.id), "task_id": str(task.id),
                              "action": "not_an_action",  # the generic route; each action has its own
                              "action_id": "1", "escalation_id": "1", "theme": "neglect", "day_id": "1",
                              "key": "rapid_review", "other": "SAR-2026-999"}
        yield client


async def test_every_role_on_every_route(world, engine):
    """Roles a route declares get past its role check (the answer may still be a narrower 403, 404, 409 or
    422, never 401 or 5xx); every other role gets the route's 403."""
    checked = 0
    for rule in sorted(route_table(world.app), key=lambda r: r.path == "/api/auth/signout"):  # signing out last
        if rule.roles is None:
            continue  # public: health and sign-in
        path = rule.path.format(**world.path_values)
        for role, headers in world.headers_of.items():
            response = await world.request(rule.method, path, headers=headers,
                                           json={"not": "valid"} if rule.method == "POST" else None)
            refused_by_route = response.status_code == 403 and response.json()["detail"].startswith(
                f"Your role ({role}) may not do this")
            if role in rule.roles:
                assert response.status_code != 401 and response.status_code < 500 and not refused_by_route, (
                    f"{role} {rule.method} {path}: {response.status_code} {response.text}")
            else:
                assert refused_by_route, f"{role} {rule.method} {path}: {response.status_code} {response.text}"
            checked += 1
        anonymous = await world.request(rule.method, path)
        assert anonymous.status_code == 401, f"anonymous {rule.method} {path}"
    assert checked >= 100
    with Session(engine) as session:
        assert session.get(CaseRecord, world.reference).stage == "csc_consultation", "nothing was changed"


async def test_every_role_on_every_action(world):
    """The workflow's own role rules, enforced by the API before the update is sent."""
    for action, spec in ACTIONS.items():
        for role, headers in world.headers_of.items():
            response = await world.post(f"/api/cases/{world.reference}/actions/{action}", headers=headers,
                                        json={"not": "valid"})
            if role in spec.roles:
                assert response.status_code in (404, 409, 422), f"{role} {action}: {response.text}"
            else:
                assert response.status_code == 403, f"{role} {action}: {response.status_code}"


async def test_agency_members_see_only_their_cases_and_tasks(world):
    reference = world.reference
    outsider = world.headers_of["agency_member"]  # agency.education: not invited to this case
    assert (await world.get(f"/api/cases/{reference}", headers=outsider)).status_code == 404
    assert (await world.get(f"/api/cases/{reference}/timeline", headers=outsider)).status_code == 404
    assert (await world.get(f"/api/cases/{reference}/documents", headers=outsider)).status_code == 404
    document = world.path_values["document_id"]
    assert (await world.get(f"/api/documents/{document}", headers=outsider)).status_code == 404
    assert (await world.get("/api/tasks?mine=false", headers=outsider)).json()["items"] == []


def test_failed_sign_ins_are_throttled(api_client, demo_passwords, engine, settings):
    """Past the free failures for a username the next attempt waits (Retry-After), whatever its password."""
    free = settings.sign_in_free_failures_per_username
    api_client.app.state.settings = settings.model_copy(update={"sign_in_first_wait_seconds": 60})  # no races
    for _ in range(free):
        wrong = api_client.post("/api/auth/token", data={"username": "panel.chair", "password": "guess"})
        assert wrong.status_code == 401
    right_but_throttled = api_client.post(
        "/api/auth/token", data={"username": "panel.chair", "password": demo_passwords["panel.chair"]})
    assert right_but_throttled.status_code == 429 and int(right_but_throttled.headers["Retry-After"]) > 0
    other = api_client.post("/api/auth/token", data={"username": "auditor", "password": demo_passwords["auditor"]})
    assert other.status_code == 200, "another user is not affected"
    with Session(engine) as session:
        rows = session.exec(text("SELECT action FROM audit_event ORDER BY id")).all()
    assert [r[0] for r in rows].count("sign_in_failed") == free
    assert [r[0] for r in rows].count("sign_in_throttled") == 1


def test_session_cookie_needs_its_csrf_token_for_changes(api_client, demo_passwords, settings):
    sign_in_form = {"username": "exec.la", "password": demo_passwords["exec.la"]}
    assert api_client.post("/api/auth/session", data=sign_in_form).status_code == 403, "no sign-in CSRF token"
    sign_in_csrf = api_client.get("/api/auth/session").json()["csrf_token"]
    assert api_client.post("/api/auth/session", data=sign_in_form,
                           headers={"X-CSRF-Token": sign_in_csrf + "x"}).status_code == 403
    started = api_client.post("/api/auth/session", data=sign_in_form, headers={"X-CSRF-Token": sign_in_csrf})
    assert started.status_code == 200
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie, "dev runs on plain http; production sets Secure"
    csrf = started.json()["csrf_token"]
    assert api_client.get("/api/me").json()["username"] == "exec.la"
    forged = api_client.post("/api/cases", json={})
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = api_client.post("/api/auth/signout", headers={"X-CSRF-Token": "not-the-token"})
    assert wrong.status_code == 403
    assert api_client.post("/api/auth/signout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert api_client.get("/api/me").status_code == 401


def test_verify_finds_an_edited_row_and_a_deleted_row(api_client, sign_in, engine):
    for username in ("panel.chair", "csc.lead", "exec.la", "exec.icb", "exec.police", "strategy.manager"):
        sign_in(username)
    auditor = sign_in("auditor")
    intact = api_client.get("/api/audit/verify", headers=auditor).json()
    assert intact["intact"] is True and intact["rows"] >= 7
    with Session(engine) as session:
        as_table_owner(session)  # on PostgreSQL only the table's owner can, by switching the trigger off
        session.exec(text("UPDATE audit_event SET actor_role = 'auditor' WHERE id = 2"))
        session.exec(text("DELETE FROM audit_event WHERE id = 4"))
        session.commit()
    for query in ("", "?full=true"):  # routine (from the checkpoint, which sees the deletion) and full
        broken = api_client.get(f"/api/audit/verify{query}", headers=auditor).json()
        assert broken["intact"] is False and broken["full"] is True
        assert "row 2 was changed after it was written" in broken["problems"]
        assert "rows 4..4 are missing (deleted)" in broken["problems"]
    assert api_client.get("/api/audit/verify", headers=sign_in("panel.chair")).status_code == 403


def test_routine_verification_walks_only_the_new_rows_and_an_auditor_can_ask_for_all(api_client, sign_in):
    auditor = sign_in("auditor")
    first = api_client.get("/api/audit/verify", headers=auditor).json()
    assert first["intact"] is True and first["walked"] == first["rows"]
    sign_in("panel.chair")
    routine = api_client.get("/api/audit/verify", headers=auditor).json()
    assert routine["intact"] is True and routine["full"] is False
    assert routine["walked"] < routine["rows"], "starts at the checkpoint the first check left"
    full = api_client.get("/api/audit/verify?full=true", headers=auditor).json()
    assert full["intact"] is True and full["full"] is True and full["walked"] == full["rows"]
