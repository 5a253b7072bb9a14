"""A case whose workflow the engine does not have is shown as orphaned, never as live; a closed case past the
engine's retention is served from the history archive.

The engine "loses" the cases the way it happens in life: the service is pointed at another Temporal server
(a fresh one: an engine whose state is gone, or a different TEMPORAL_ADDRESS) while the database keeps them.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlmodel import Session

from engine.calendar import WorkingDayCalendar, london_date
from records.codec import EncryptionCodec
from records.models import CaseRecord
from service.app import create_app
from service.platform import jobs
from service.platform.engine_watch import check_open_cases
from tests.conftest import start_test_server


@pytest.fixture
async def lost_engine():
    """Another Temporal server, empty: what the service meets when the engine lost its state."""
    env = await start_test_server()
    yield env
    await env.shutdown()


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _headers(client: httpx.AsyncClient, passwords: dict, username: str) -> dict:
    answer = await client.post("/api/auth/token", data={"username": username, "password": passwords[username]})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _refer(client: httpx.AsyncClient, headers: dict, today) -> str:
    created = await client.post("/api/cases", headers=headers, json={
        "pseudonym": "Child Q", "age_band": "5-9", "summary": "Harmed at home.", "incident_date": str(today),
        "awareness_date": str(today), "referring_agency": "police"})
    assert created.status_code == 201, created.text
    return created.json()["reference"]


async def _board_page(client: httpx.AsyncClient, passwords: dict, path: str) -> httpx.Response:
    client.cookies.clear()
    page = await client.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    signed_in = await client.post("/signin", data={"username": "strategy.manager", "csrf_token": csrf,
                                                   "password": passwords["strategy.manager"]})
    assert signed_in.status_code == 303
    return await client.get(path)


async def test_an_open_case_the_engine_lost_is_orphaned_everywhere(case_env, case_worker, settings, engine,
                                                                   demo_passwords, lost_engine):
    settings = settings.model_copy(update={"temporal_task_queue": case_worker})
    today = london_date(await case_env.get_current_time())
    async with _client(create_app(settings, case_env.client)) as live:
        manager = await _headers(live, demo_passwords, "strategy.manager")
        reference = await _refer(live, manager, today)
        assert (await live.get(f"/api/cases/{reference}", headers=manager)).status_code == 200
    # The referral's task is due within the digest's window: with the case alive, the manager is e-mailed.
    soon = WorkingDayCalendar().add_working_days(today, 1)
    assert jobs.send_daily_digest(engine, "http://test", soon)["digests"] >= 1

    async with _client(create_app(settings, lost_engine.client)) as service:
        manager = await _headers(service, demo_passwords, "strategy.manager")
        state = await service.get(f"/api/cases/{reference}", headers=manager)
        assert state.status_code == 410, state.text
        assert f"Case {reference} is orphaned" in state.json()["detail"]
        assert "no action can be taken" in state.json()["detail"]
        acted = await service.post(f"/api/cases/{reference}/actions/accept_referral", headers=manager, json={})
        assert acted.status_code == 410 and "orphaned" in acted.json()["detail"]

        ready = (await service.get("/readyz")).json()
        assert ready["checks"]["cases"]["orphaned"] == 1
        assert "1 open case(s) have no workflow" in ready["checks"]["cases"]["detail"]

        board = await _board_page(service, demo_passwords, "/board")
        assert board.status_code == 200
        card = board.text.split(f'data-reference="{reference}"', 1)[1].split("</article>", 1)[0]
        assert "Orphaned: the engine has no workflow for this case" in card
        page = await service.get(f"/cases/{reference}")
        assert page.status_code == 200, page.text
        assert 'data-testid="orphaned"' in page.text and "What you can do now" in page.text
        assert 'action="/cases/' not in page.text, "no action form is offered on an orphaned case"

    assert jobs.send_daily_digest(engine, "http://test", soon)["digests"] == 0, "no digest about an orphan's tasks"

    # The hourly check finds the same from the engine's side, and clears the mark once the workflow answers.
    keys = {"audit_key": settings.audit_key_bytes, "public_url": "http://test"}
    assert await check_open_cases(engine, lost_engine.client, **keys) == {"open_cases": 1, "orphaned": 1,
                                                                          "mismatched": 0}
    assert await check_open_cases(engine, case_env.client, **keys) == {"open_cases": 1, "orphaned": 0,
                                                                       "mismatched": 0}
    with Session(engine) as session:
        assert session.get(CaseRecord, reference).workflow_missing_since is None


async def test_a_closed_case_past_retention_is_served_from_the_archive(case_env, case_worker, settings, engine,
                                                                       demo_passwords, lost_engine):
    settings = settings.model_copy(update={"temporal_task_queue": case_worker})
    today = london_date(await case_env.get_current_time())
    async with _client(create_app(settings, case_env.client)) as live:
        manager = await _headers(live, demo_passwords, "strategy.manager")
        reference = await _refer(live, manager, today)
        declined = await live.post(f"/api/cases/{reference}/actions/close_case", headers=manager,
                                   json={"reason": "Duplicate of a case already open."})
        assert declined.status_code == 200, declined.text
        for _ in range(100):  # the workflow closes the case in the read model after the update
            with Session(engine) as session:
                if session.get(CaseRecord, reference).stage == "closed":
                    break
            await asyncio.sleep(0.05)
        async def connect():
            return case_env.client

        result = await jobs.archive_histories(engine, connect, EncryptionCodec(settings.encryption_key_bytes))
        assert result["archived"] >= 1

    async with _client(create_app(settings, lost_engine.client)) as service:
        manager = await _headers(service, demo_passwords, "strategy.manager")
        state = await service.get(f"/api/cases/{reference}", headers=manager)
        assert state.status_code == 200, state.text
        assert state.json()["stage"] == "closed" and state.json()["source"] == "archive"
        assert state.json()["pseudonym"] == "Child Q"
        timeline = await service.get(f"/api/cases/{reference}/timeline", headers=manager)
        assert timeline.status_code == 200 and any(e["action"] == "close_case" for e in timeline.json())
        history = await service.get(f"/api/cases/{reference}/history",
                                    headers=await _headers(service, demo_passwords, "auditor"))
        assert history.status_code == 200
        assert [(h["workflow_id"], h["source"]) for h in history.json()] == [(reference, "archive")]
        ready = (await service.get("/readyz")).json()
        assert ready["checks"]["cases"]["orphaned"] == 0, "a closed case past retention is not an orphan"
        with Session(engine) as session:
            assert state.json()["closed_reason"] == session.get(CaseRecord, reference).closed_reason
