"""An engine you can watch: a step that keeps failing alerts people (the case shows it, the admins get an e-mail,
/readyz and /metrics count it) and clears when it goes through; the SDK serves its own Prometheus metrics."""

from __future__ import annotations

import asyncio
import inspect
import re
import socket
import urllib.request
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select

from records.models import CaseRecord, OutboxMessage
from service.platform.temporal import connect
from service.platform.worker import build_worker
from tests.cases import CaseDriver

METRICS_TOKEN = "scraper-token-" + "x" * 20


async def until(condition, seconds: float = 90.0):
    """The condition's first true value (a coroutine function's awaited), or fail after ``seconds``."""
    for _ in range(int(seconds / 0.25)):
        found = condition()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError("the condition did not hold in time")


def record(engine, reference: str) -> CaseRecord | None:
    with Session(engine) as session:
        return session.get(CaseRecord, reference)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failing_document_step_alerts_and_the_case_shows_it(case_env, settings, engine, demo_passwords,
                                                                    tmp_path):
    from service.app import create_app

    # The document store cannot be written (a file where its directory should be): every document step fails.
    store = tmp_path / "documents"
    store.write_text("not a directory")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    broken = settings.model_copy(update={"rapid_review_document_dir": store, "temporal_task_queue": queue,
                                         "rapid_review_metrics_token": METRICS_TOKEN})
    async with build_worker(case_env.client, broken, engine):
        case = CaseDriver(case_env, queue, engine)
        await case.start(wait=False)  # its first step issues the referral acknowledgement
        flagged = await until(lambda: (r := record(engine, case.reference)) and r.effect_failing and r)
        assert "issue_document" in flagged.effect_failing and "details withheld" in flagged.effect_failing
        assert "Julie" not in flagged.effect_failing and "head injury" not in flagged.effect_failing
        with Session(engine) as session:
            alerts = session.exec(select(OutboxMessage).where(OutboxMessage.case_reference == case.reference,
                                                              OutboxMessage.subject.startswith("ALERT"))).all()
        assert [a.to_address for a in alerts] == ["admin@example.org"], "one e-mail to each admin"
        assert "Julie" not in alerts[0].body

        app = create_app(broken, case_env.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            page = await client.get("/signin")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            await client.post("/signin", data={"username": "strategy.manager", "csrf_token": csrf,
                                               "password": demo_passwords["strategy.manager"]})
            shown = await client.get(f"/cases/{case.reference}")
            assert shown.status_code == 200
            assert 'data-testid="effect-failing"' in shown.text and "keeps failing" in shown.text

            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["effects"]["failing"] == 1
            assert (await client.get("/metrics")).status_code == 401
            scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert scraped.status_code == 200
            assert "rapid_review_failing_effects 1" in scraped.text
            assert 'rapid_review_open_cases{stage="referral"} 1' in scraped.text
            assert "rapid_review_audit_chain_intact 1" in scraped.text
            assert 'rapid_review_outbox_messages{status="pending"}' in scraped.text

            # The store is mended: the next attempt goes through, the case moves on, the alert clears.
            store.unlink()
            store.mkdir()
            await case_env.sleep(timedelta(minutes=2))
            await until(lambda: record(engine, case.reference).effect_failing is None)
            assert await until(case.documents), "the acknowledgement was issued"
            shown = await client.get(f"/cases/{case.reference}")
            assert 'data-testid="effect-failing"' not in shown.text
            assert (await client.get("/readyz")).json()["checks"]["effects"]["failing"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_worker_serves_the_sdk_metrics(case_env, settings, engine):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    client = await connect(case_env.client.service_client.config.target_host, case_env.client.namespace,
                           settings.encryption_key_bytes, metrics_address=address)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, settings.model_copy(update={"temporal_task_queue": queue}), engine):
        await CaseDriver(case_env, queue, engine).start()
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{address}/metrics", timeout=10)
                                       .read().decode())
    for metric in ("temporal_workflow_task_execution_latency", "temporal_activity_execution_latency",
                   "temporal_activity_schedule_to_start_latency"):
        assert metric in text, metric
