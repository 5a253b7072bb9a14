"""Fault injection with real processes and real failures: workers killed mid-case, the database going away
during an activity, the API killed between accepting an action and replying."""

import asyncio
import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from engine.authenticity import sealed
from engine.calendar import WorkingDayCalendar, london_date
from records.db import engine_for, session_scope, upgrade
from records.models import AppliedStep, AuditEvent, CaseRecord, Document, IdempotentRequest, OutboxMessage, Task
from records.object_store import FileStore
from service.accounts.users import create_demo_users, ensure_partnership
from service.platform.runner import ServiceProcesses, free_port, wait_until_ready
from service.platform.settings import decode_encryption_key
from service.platform.temporal import connect
from service.platform.worker import build_worker
from tests.cases import ACTORS, CaseDriver, sealed_action
from tests.conftest import TEST_KEY, make_settings
from tests.faults import RefusingProxy
from tests.postgres import create_database, drop_database

SECRET = "fault-secret-key-" + "x" * 32
AUDIT_KEY = "fault-audit-key-" + "y" * 32


class RealTime:
    """What CaseDriver needs of an environment, on a real-time server."""

    def __init__(self, client) -> None:
        self.client = client

    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


class PersistentDriver(CaseDriver):
    """Sends each action with a fixed update id and retries it until the workflow answers, as the API's
    Idempotency-Key does: a worker crash delays an action, never loses or doubles it. An activity the killed worker
    had in flight is retried only after its start-to-close timeout (60 s): settling waits that out."""

    SETTLE_SECONDS = 150.0

    async def act(self, action: str, actor: str, *, workflow_id: str | None = None, **fields) -> dict:
        handle = self.env.client.get_workflow_handle(workflow_id or self.reference)
        payload, _ = sealed_action(handle.id, action, ACTORS[actor], fields)
        update_id = f"{self.reference}:{action}:{actor}:{fields.get('version', '')}"
        sealed(handle.id, action, update_id, payload)
        for _ in range(120):
            try:
                async with asyncio.timeout(30) as deadline:
                    return await handle.execute_update(action, payload, id=update_id)
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                if not deadline.expired():
                    raise
            except RPCError:
                await asyncio.sleep(1)
        raise AssertionError(f"{action} on {self.reference} never answered")

    async def state(self) -> dict:
        """A query needs a worker too: asked again until one answers."""
        for _ in range(120):
            try:
                return await super().state()
            except RPCError:
                await asyncio.sleep(1)
        raise AssertionError(f"no worker answered a query on {self.reference}")

    async def no_further_review(self) -> str:
        """A whole rapid review that ends with no further review (no timers to wait for)."""
        await self.start()
        await self.act("accept_referral", "bu")
        await self.agree_notification()
        today = str(await self.today())
        await self.act("record_notification", "csc", notified_on=today, notification_reference="OF-1")
        await self.act("convene_panel", "bu", panel_date=await self.next_working_day(), invited_agencies=["education"])
        await self.act("submit_information_return", "education", involvement="a", chronology="b", analysis="c")
        await self.act("record_panel_outcome", "chair", held_on=today, attendees=["Chair"], learning="l",
                       recommendation="no_further_review", rationale="r")
        await self.act("issue_decision_sheet", "chair", circumstances="c", local_review_criteria_met=False)
        await self.approve_all(version=1)
        await self.act("record_submission", "bu", submitted_on=today)
        await self.act("record_national_panel_response", "bu", received_on=today, content="Agreed.",
                       panel_view="agrees")
        await self.partners_decide("record_learning_activities", "la", decided_on=today, activities=[],
                                   note="Covered by the rapid review.")
        return await self.handle.result()


def live_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = engine_for(url)
    upgrade(engine)
    with session_scope(engine) as session:
        ensure_partnership(session, "Fault LSCP")
        create_demo_users(session, AUDIT_KEY.encode())
    return url


def footprint(session: Session, reference: str) -> tuple:
    """What a case left in the database: audit rows by action, documents by kind and version, tasks, e-mails."""
    audit = Counter(session.exec(select(AuditEvent.action).where(AuditEvent.case_reference == reference)))
    documents = Counter(session.exec(select(Document.kind).where(Document.case_reference == reference)))
    tasks = Counter(session.exec(select(Task.status).where(Task.case_reference == reference)))
    mails = session.exec(select(func.count()).where(OutboxMessage.case_reference == reference)).one()
    return tuple(sorted(audit.items())), tuple(sorted(documents.items())), tuple(sorted(tasks.items())), mails


async def test_cases_complete_once_while_workers_are_killed(tmp_path):
    stack = ServiceProcesses(tmp_path, live_database(tmp_path), TEST_KEY, SECRET, audit_key=AUDIT_KEY)
    try:
        client = await connect(stack.address, "default", decode_encryption_key(TEST_KEY))
        worker = stack.start("worker")
        drivers = [PersistentDriver(RealTime(client), "rapid-review") for _ in range(20)]
        cases = asyncio.gather(*(driver.no_further_review() for driver in drivers))
        chance = random.Random(20261122)
        kills = 0
        while not cases.done() and kills < 4:
            await asyncio.wait([cases], timeout=chance.uniform(2, 6))
            if not cases.done():
                stack.kill(worker)
                kills += 1
                await asyncio.sleep(chance.uniform(0.5, 2))
                worker = stack.start("worker")
        results = await asyncio.wait_for(cases, timeout=400)
    finally:
        stack.stop()
    assert kills >= 3, "the worker was killed mid-run several times"
    assert results == ["No further review: the partners' decision (the National Panel agreed); no further learning "
                       "activity: Covered by the rapid review."] * 20
    engine = engine_for(stack.env["DATABASE_URL"])
    with Session(engine) as session:
        prints = {footprint(session, d.reference) for d in drivers}
        assert len(prints) == 1, "every case left exactly the same records: nothing lost, nothing twice"
        audit, documents, tasks, mails = prints.pop()
        assert dict(documents) == {"decision_sheet": 1, "decision_sheet_signed": 1, "information_request_education": 1,
                                   "information_return_education": 1,
                                   "national_panel_submission": 1, "notification_record": 1, "panel_invitation": 1,
                                   "referral_acknowledgement": 1, "sin_decision": 1, "sign_off_request": 1}
        assert dict(audit)["sign_off"] == 3 and "open" not in dict(tasks) and mails > 0
        registered = [key for row in session.exec(select(Document)) for key in (row.pdf_path, row.html_path)]
    in_store = set(FileStore(tmp_path / "var" / "documents").keys())
    # Each registered file is in the store, once (its key is its hash). A render cut short by a kill before its row
    # was written leaves an object no row names: never listed, never served.
    assert len(registered) == len(set(registered)) and set(registered) <= in_store


async def test_an_activity_retries_while_the_database_refuses_connections(case_env, postgres_base_url, tmp_path):
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(postgres_base_url, name)
    target_port = int(postgres_base_url.rsplit(":", 1)[1])
    proxy = RefusingProxy("127.0.0.1", target_port, free_port())
    await proxy.accept()
    settings = make_settings(tmp_path, f"postgresql://app@127.0.0.1:{proxy.port}/{name}",
                             temporal_task_queue=f"db-{uuid.uuid4().hex[:6]}")
    engine = engine_for(settings.sqlalchemy_url)  # the worker's, through the proxy (used from its threads only)
    direct = engine_for(f"{postgres_base_url}/{name}")  # the test's own view, never through the proxy
    upgrade(direct)
    try:
        async with build_worker(case_env.client, settings, engine):
            driver = CaseDriver(case_env, settings.temporal_task_queue, direct)
            await driver.start()
            for _ in range(200):  # the referral's own step is in the database before the fault
                with Session(direct) as session:
                    if session.get(CaseRecord, driver.reference) is not None:
                        break
                await asyncio.sleep(0.05)
            await proxy.refuse()
            accepted = asyncio.create_task(driver.act("accept_referral", "bu"))
            await asyncio.sleep(4)
            pending = (await driver.handle.describe()).raw_description.pending_activities
            assert not accepted.done() and pending and pending[0].attempt > 1, "the step is being retried"
            failure = pending[0].last_failure  # its message travels encrypted; the service's client reads it
            assert failure.application_failure_info.type == "OperationalError"
            readable = await case_env.client.data_converter.decode_failure(failure)
            assert "database error OperationalError" in str(readable)
            with Session(direct) as session:
                assert session.get(CaseRecord, driver.reference).stage == "referral", "nothing half-written"
            await proxy.accept()
            state = await asyncio.wait_for(accepted, timeout=120)
        assert state["stage"] == "csc_consultation"
        with Session(direct) as session:
            assert session.get(CaseRecord, driver.reference).stage == "csc_consultation"
            steps = session.exec(select(AppliedStep.key).where(AppliedStep.key.like(f"{driver.reference}:%"))).all()
            assert sum(key.endswith(":accept_referral") for key in steps) == 1
            actions = [a for a in session.exec(select(AuditEvent.action).where(
                AuditEvent.case_reference == driver.reference))]
            assert actions.count("accept_referral") == 1
            assert [t.status for t in session.exec(select(Task).where(Task.case_reference == driver.reference,
                                                                      Task.action == "accept_referral"))] == ["done"]
    finally:
        await proxy.refuse()
        direct.dispose()
        engine.dispose()
        drop_database(postgres_base_url, name)


async def test_a_retry_after_the_api_died_mid_action_acts_once(tmp_path):
    url = live_database(tmp_path)
    engine = engine_for(url)
    with session_scope(engine) as session:  # known passwords for the two people of this test
        from records.models import User
        from service.accounts.auth import hash_password

        people = ["strategy.manager", "csc.lead", "agency.education", "exec.police", "exec.icb"]
        for user in session.exec(select(User).where(User.username.in_(people))):
            user.password_hash = hash_password("fault-test-password")
            session.add(user)
    stack = ServiceProcesses(tmp_path, url, TEST_KEY, SECRET, audit_key=AUDIT_KEY)
    stack.env["ACTION_ANSWER_TIMEOUT_SECONDS"] = "3"
    stack.env["API_WORKERS"] = "1"  # the one API process dies mid-action (another would answer in its place)
    try:
        worker = stack.start("worker")
        api = stack.start("api --no-scheduler")
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
            await wait_until_ready(stack.base_url)

            async def headers(username):
                token = await client.post("/api/auth/token", data={"username": username,
                                                                   "password": "fault-test-password"})
                return {"Authorization": f"Bearer {token.json()['access_token']}"}

            bu, csc = await headers("strategy.manager"), await headers("csc.lead")
            today = london_date(datetime.now(UTC))
            created = await client.post("/api/cases", headers=bu, json={
                "pseudonym": "F", "age_band": "5-9", "summary": "s", "incident_date": str(today),
                "awareness_date": str(today), "referring_agency": "police"})
            reference = created.json()["reference"]
            actions = f"/api/cases/{reference}/actions"
            await client.post(f"{actions}/accept_referral", headers=bu, json={})
            await client.post(f"{actions}/propose_sin_decision", headers=csc, json={
                "decision": "notify", "rationale": "r"})
            for seat in ("exec.police", "exec.icb"):
                await client.post(f"{actions}/respond_to_sin_proposal", headers=await headers(seat), json={
                    "version": 1, "view": "agree", "comments": "Agreed."})
            await client.post(f"{actions}/record_notification", headers=csc, json={
                "notified_on": str(today), "notification_reference": "OF-9"})
            body = {"panel_date": str(WorkingDayCalendar().add_working_days(today, 1)),
                    "invited_agencies": ["education", "police", "community_health", "gp", "housing", "acute_trust"]}
            key = {**bu, "Idempotency-Key": f"convene-{reference}"}

            async def kill_once_it_took_effect():
                """The workflow's step is in the database (documents still rendering): the API dies now."""
                while True:
                    with Session(engine) as session:
                        if session.exec(select(AuditEvent.id).where(AuditEvent.case_reference == reference,
                                                                    AuditEvent.action == "convene_panel")).first():
                            stack.kill(api)
                            return
                    await asyncio.sleep(0.01)

            killer = asyncio.create_task(kill_once_it_took_effect())
            with pytest.raises(httpx.TransportError):
                await client.post(f"{actions}/convene_panel", headers=key, json=body)
            await killer
            stack.start("api --no-scheduler")
            await wait_until_ready(stack.base_url)
            retried = await client.post(f"{actions}/convene_panel", headers=key, json=body)
            assert retried.status_code == 200, retried.text
            assert retried.json()["stage"] == "panel_preparation"
            again = await client.post(f"{actions}/convene_panel", headers=key, json=body)
            assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == retried.json()

            # No worker at all: the person is told to retry instead of waiting; the retry acts once.
            stack.kill(worker)
            education = {**await headers("agency.education"), "Idempotency-Key": f"return-{reference}"}
            information = {"involvement": "Known to school", "chronology": "c", "analysis": "a"}
            waited = await client.post(f"{actions}/submit_information_return", headers=education, json=information)
            assert waited.status_code == 503 and "same Idempotency-Key" in waited.json()["detail"]
            assert waited.headers["Retry-After"]
            # Reading needs no worker: the state comes from the read model its last step stored.
            reading = await client.get(f"/api/cases/{reference}", headers=bu)
            assert reading.status_code == 200 and reading.json()["stage"] == "panel_preparation", reading.text
            stack.start("worker")
            for _ in range(60):
                answered = await client.post(f"{actions}/submit_information_return", headers=education,
                                             json=information)
                if answered.status_code != 503:
                    break
            assert answered.status_code == 200, answered.text
    finally:
        stack.stop()
    with Session(engine) as session:
        done = session.exec(select(AuditEvent.action).where(AuditEvent.case_reference == reference)).all()
        assert done.count("convene_panel") == 1, "the action took effect once"
        kinds = session.exec(select(Document.kind).where(Document.case_reference == reference)).all()
        assert kinds.count("panel_invitation") == 1
        assert done.count("submit_information_return") == 1, "the return sent twice was recorded once"
        assert session.exec(select(IdempotentRequest.status_code).where(
            IdempotentRequest.key == f"convene-{reference}")).one() == 200
