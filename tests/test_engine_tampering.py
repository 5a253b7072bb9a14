"""The engine's port is not a side door: a case's workflow reset, terminated or squatted through Temporal directly
is found (the read path and the hourly check compare the engine's description with the run the service started),
flagged on the case, e-mailed to the admins, audited and counted by /readyz and /metrics.

A real Temporal dev server (the `temporal` CLI in the venv): the time-skipping test server has no reset.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session, select, update
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest

from records.models import AuditEvent, CaseRecord, EngineWatchMark, OutboxMessage
from service.app import create_app
from service.platform.engine_watch import check_open_cases, mark_of, watch_running, watch_trusted
from service.platform.runner import free_port, start_embedded_temporal, stop_process, temporal_cli
from service.platform.scheduler import Jobs
from service.platform.temporal import TemporalConnection, connect
from service.platform.worker import build_worker

METRICS_TOKEN = "scraper-token-" + "y" * 20
REFERRAL = {"pseudonym": "Child T", "age_band": "5-9", "summary": "Harmed at home.", "incident_date": "2026-11-02",
            "awareness_date": "2026-11-03", "referring_agency": "police"}


@pytest.fixture
async def dev_server(tmp_path):
    process, address = await asyncio.to_thread(start_embedded_temporal, tmp_path / "temporal", free_port())
    try:
        yield address
    finally:
        await asyncio.to_thread(stop_process, process)


def alerts(engine, reference: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return session.exec(select(OutboxMessage).where(OutboxMessage.subject.startswith("ALERT"),
                                                        OutboxMessage.subject.contains(reference))).all()


def audited(engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()


def record(engine, reference: str) -> CaseRecord:
    with Session(engine) as session:
        return session.get(CaseRecord, reference)


async def test_a_reset_a_terminate_and_a_squatted_id_are_found_alerted_and_audited(dev_server, settings, engine,
                                                                                   demo_passwords):
    settings = settings.model_copy(update={"temporal_task_queue": f"test-{uuid.uuid4().hex[:8]}",
                                           "rapid_review_metrics_token": METRICS_TOKEN})
    client = await connect(dev_server, "default", settings.encryption_key_bytes)
    keys = {"audit_key": settings.audit_key_bytes, "public_url": "http://test"}
    async with build_worker(client, settings, engine), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://test") as api:
        token = await api.post("/api/auth/token", data={"username": "strategy.manager",
                                                        "password": demo_passwords["strategy.manager"]})
        manager = {"Authorization": f"Bearer {token.json()['access_token']}"}

        async def refer() -> str:
            created = await api.post("/api/cases", headers=manager, json=REFERRAL)
            assert created.status_code == 201, created.text
            return created.json()["reference"]

        reset_case, ended_case = await refer(), await refer()
        started_run = record(engine, reset_case).workflow_run_id
        assert started_run, "the run that opened the case is recorded"
        assert await check_open_cases(engine, client, **keys) == {"open_cases": 2, "orphaned": 0, "mismatched": 0}

        # A reset through the engine's port: a new run replays the case from its first workflow task.
        reset = await asyncio.to_thread(subprocess.run, [
            temporal_cli(), "workflow", "reset", "--workflow-id", reset_case, "--type", "FirstWorkflowTask",
            "--reason", "insider", "--address", dev_server, "--namespace", "default"],
            capture_output=True, text=True, timeout=60)
        assert reset.returncode == 0, reset.stderr
        # An action first: it goes to the run that opened the case, which the reset ended, so the engine refuses it
        # and is then described.
        acted = await api.post(f"/api/cases/{reset_case}/actions/accept_referral", headers=manager, json={})
        assert acted.status_code == 410 and "changed outside the service" in acted.json()["detail"]
        read = await api.get(f"/api/cases/{reset_case}", headers=manager)
        assert read.status_code == 410 and "changed outside the service" in read.json()["detail"]
        assert f"not run {started_run}" in read.json()["detail"]
        assert "reset, or started outside the service" in record(engine, reset_case).engine_mismatch
        assert [m.to_address for m in alerts(engine, reset_case)] == ["admin@example.org"], "one e-mail per admin"
        form = await api.get("/signin")  # the board and the case page say so too
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        await api.post("/signin", data={"username": "strategy.manager", "csrf_token": csrf,
                                        "password": demo_passwords["strategy.manager"]})
        board = (await api.get("/board")).text
        assert 'data-testid="engine-mismatch"' in board.split(f'data-reference="{reset_case}"', 1)[1].split(
            "</article>", 1)[0]
        page = await api.get(f"/cases/{reset_case}")
        assert "this case's workflow was changed outside the service" in page.text
        assert 'action="/cases/' not in page.text, "no action form is offered"
        api.cookies.clear()

        # A terminate nobody reads or acts on: found within seconds by the look at the engine's running workflows,
        # then by the hourly check (it asks for the status), and kept, not cleared, by the next one.
        await client.get_workflow_handle(ended_case).terminate(reason="insider")
        for _ in range(100):  # (the engine lists a close a moment after it happens)
            await watch_running(engine, client, "test", **keys)
            if record(engine, ended_case).engine_mismatch:
                break
            await asyncio.sleep(0.1)
        assert "terminated while the case is open" in record(engine, ended_case).engine_mismatch
        assert len(alerts(engine, ended_case)) == 1, "the admins are told at once"
        for _ in range(2):
            assert await check_open_cases(engine, client, **keys) == {"open_cases": 2, "orphaned": 0,
                                                                      "mismatched": 2}
        assert "terminated while the case is open" in record(engine, ended_case).engine_mismatch
        assert len(alerts(engine, ended_case)) == 1
        assert sorted(row.case_reference for row in audited(engine, "engine_mismatch")) == sorted(
            [reset_case, ended_case])

        ready = (await api.get("/readyz")).json()
        assert ready["checks"]["engine"]["mismatched"] == 2
        scraped = await api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert "rapid_review_engine_mismatched_cases 2" in scraped.text

        # A squatter starts a workflow under the next case's id: the referral takes the one after, and it is alerted.
        year, number = ended_case.rsplit("-", 2)[1:]
        squatted = f"RR-{year}-{int(number) + 1:03d}"
        await client.start_workflow("Squatter", id=squatted, task_queue="nobody-polls-this")
        third = await refer()
        assert third == f"RR-{year}-{int(number) + 2:03d}"
        assert [json.loads(row.detail)["workflow_id"] for row in audited(engine, "workflow_id_taken")] == [squatted]
        assert alerts(engine, squatted), "the admins are told"


async def test_the_engine_watch_says_once_that_the_list_fails_and_once_that_it_answers_again(
        dev_server, temporal_env, settings, engine, caplog):
    """The look at the engine's list every 5 s, at a server that cannot list its workflows (the time-skipping test
    server cannot), warns once, not every 5 s, and keeps its place; once a server lists them again, that is said
    once and the look moves on."""
    key = settings.encryption_key_bytes
    jobs = Jobs(engine, settings, TemporalConnection("unused:7233", "default", key, client=temporal_env.client))
    with caplog.at_level(logging.WARNING, logger="service.platform.scheduler"):
        for _ in range(3):
            await jobs.watch_engine()
        assert [r.getMessage() for r in caplog.records] == [
            "could not look at the Temporal server's list of workflows; looking again every 5 s"]
        assert not await watch_trusted(engine, mark_of(dev_server, "default")), (
            "reads ask the engine themselves while the watch cannot look")
        caplog.clear()
        jobs.temporal = TemporalConnection(dev_server, "default", key)
        for _ in range(2):
            await jobs.watch_engine()
        assert [r.getMessage() for r in caplog.records] == ["the Temporal server's list of workflows answers again"]
    await asyncio.sleep(1.1)  # (a process reads the watch's mark at most once a second)
    assert await watch_trusted(engine, mark_of(dev_server, "default"))
    assert not await watch_trusted(engine, mark_of("elsewhere:7233", "default")), "a look at one engine only"


async def test_the_watch_finds_a_deleted_workflow_clears_a_stale_flag_and_reads_ask_once_it_stops(
        dev_server, settings, engine, demo_passwords):
    """A case's workflow deleted through the engine's port (as an engine that lost its data would have it) is found
    by the next look at the engine's running workflows and shown as orphaned, and a flag the engine no longer bears
    out is cleared. While the watch is trusted an action still finds a terminate at once; reads trust the watch only
    while it looked in the last seconds, and once it has stopped, a read asks the engine itself."""
    settings = settings.model_copy(update={"temporal_task_queue": f"test-{uuid.uuid4().hex[:8]}"})
    client = await connect(dev_server, "default", settings.encryption_key_bytes)
    keys = {"audit_key": settings.audit_key_bytes, "public_url": "http://test"}
    mark = mark_of(settings.temporal_address, settings.temporal_namespace)  # the one the API's reads look for
    async with build_worker(client, settings, engine), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, client)), base_url="http://test") as api:
        token = await api.post("/api/auth/token", data={"username": "strategy.manager",
                                                        "password": demo_passwords["strategy.manager"]})
        manager = {"Authorization": f"Bearer {token.json()['access_token']}"}
        references = []
        for _ in range(3):
            created = await api.post("/api/cases", headers=manager, json=REFERRAL)
            assert created.status_code == 201, created.text
            references.append(created.json()["reference"])
        deleted_case, acted_case, ended_case = references
        for _ in range(100):  # (the engine lists a start a moment after it happens)
            looked = await watch_running(engine, client, mark, **keys)
            if looked["running"] == 3:
                break
            await asyncio.sleep(0.1)
        assert looked == {"running": 3, "open_cases": 3, "described": 0, "list_behind": False}
        assert await watch_trusted(engine, mark)

        # An open case the list leaves out while the engine runs it as recorded (here: a workflow of a type the
        # list does not ask for, standing in for a list that fell behind): the look is not trusted.
        lagging = await client.start_workflow("Squatter", id="RR-2026-990", task_queue="nobody-polls-this")
        with Session(engine) as session:
            session.add(CaseRecord(reference="RR-2026-990", pseudonym="Child L", stage="referral",
                                   opened_on=datetime.now(UTC).date(), year=2026,
                                   awareness_date=datetime.now(UTC).date(), workflow_run_id=lagging.result_run_id))
            session.commit()
        assert (await watch_running(engine, client, mark, **keys))["list_behind"]
        await asyncio.sleep(1.1)  # (a process reads the watch's mark at most once a second)
        assert not await watch_trusted(engine, mark), "reads ask the engine while its list is behind"
        assert record(engine, "RR-2026-990").engine_mismatch is None, "and nothing is flagged"
        await lagging.terminate()
        with Session(engine) as session:
            session.delete(session.get(CaseRecord, "RR-2026-990"))
            session.commit()

        with Session(engine) as session:  # a flag left from an episode an administrator has since put right
            session.exec(update(CaseRecord).where(CaseRecord.reference == acted_case).values(
                engine_mismatch="the workflow is terminated while the case is open",
                engine_mismatch_since=datetime.now(UTC)))
            session.commit()
        assert (await watch_running(engine, client, mark, **keys))["described"] == 1
        assert record(engine, acted_case).engine_mismatch is None, "the engine agrees again: cleared"

        await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
            namespace="default", workflow_execution=WorkflowExecution(workflow_id=deleted_case)))
        for _ in range(100):
            await watch_running(engine, client, mark, **keys)
            if record(engine, deleted_case).orphaned:
                break
            await asyncio.sleep(0.1)
        assert record(engine, deleted_case).orphaned and record(engine, ended_case).engine_mismatch is None
        read = await api.get(f"/api/cases/{deleted_case}", headers=manager)
        assert read.status_code == 410 and "is orphaned" in read.json()["detail"]

        await asyncio.sleep(1.1)
        assert await watch_trusted(engine, mark), "trusted again once a look finds the list up to date"
        await client.get_workflow_handle(acted_case).terminate(reason="insider")
        acted = await api.post(f"/api/cases/{acted_case}/actions/accept_referral", headers=manager, json={})
        assert acted.status_code == 410 and "terminated while the case is open" in acted.json()["detail"]

        # The watch stops (its last look 20 s ago): a terminate it never sees is found by the next read itself.
        with Session(engine) as session:
            session.exec(update(EngineWatchMark).values(looked_at=datetime.now(UTC) - timedelta(seconds=20)))
            session.commit()
        await asyncio.sleep(1.1)  # (a process reads the watch's mark at most once a second)
        assert not await watch_trusted(engine, mark)
        await client.get_workflow_handle(ended_case).terminate(reason="insider")
        read = await api.get(f"/api/cases/{ended_case}", headers=manager)
        assert read.status_code == 410 and "terminated while the case is open" in read.json()["detail"]
