"""Acts once across API replicas: two real `rapid-review api` processes, two workers, one PostgreSQL database and
one Temporal dev server. The year's first referrals sent to both at once all open cases, with distinct references;
the same Idempotency-Key sent to both at once opens one case, and both answers name it."""

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from engine.calendar import london_date
from records.db import make_engine
from records.models import CaseRecord, IdempotentRequest, ReferenceCounter
from service.platform.runner import ServiceProcesses, free_port, wait_until_ready
from tests.conftest import TEST_AUDIT_KEY, TEST_KEY
from tests.postgres import create_database, drop_database

SECRET = "replica-secret-key-" + "x" * 32
PAIRS = 100
PAIRS_AT_ONCE = 4  # the race is inside each pair; more pairs at once only crowd the workers' CPU


@dataclass
class Replicas:
    urls: list[str]
    engine: object
    password: str


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, postgres_base_url, database_templates):
    """The stack, started once for both races (each referral starts a real workflow on the worker)."""
    directory = tmp_path_factory.mktemp("replicas")
    name = f"replicas_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_base_url, name, template=database_templates.template("postgresql", True))
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    stack = ServiceProcesses(directory, url, TEST_KEY, SECRET, audit_key=TEST_AUDIT_KEY)
    second_port = free_port()
    apis = []
    try:
        stack.start("worker")
        stack.start("worker")  # each referral renders its acknowledgement (a PDF): two share the cases
        apis.append(stack.start("api --no-scheduler"))
        apis.append(subprocess.Popen(  # noqa: S603 - the service's own CLI
            [sys.executable, "-m", "service.cli", "api", "--no-scheduler"],
            env={**stack.env, "API_PORT": str(second_port)}, stdout=stack.log, stderr=subprocess.STDOUT))
        stack.processes.append(apis[-1])
        urls = [stack.base_url, f"http://127.0.0.1:{second_port}"]

        async def ready():
            await asyncio.gather(*(wait_until_ready(base) for base in urls))

        asyncio.run(ready())
        yield Replicas(urls, engine, database_templates.passwords["strategy.manager"])
    finally:
        for process in stack.processes:  # all asked to stop at once, then waited for (once: a second SIGTERM
            process.terminate()          # during a slow shutdown on a busy machine would kill it outright)
        for process in stack.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                pass  # stack.stop() below kills what is left
        stack.stop()
        engine.dispose()
        drop_database(postgres_base_url, name)
    assert [api.returncode for api in apis] == [0, 0], f"an API did not stop cleanly; see {directory}/service.log"


def referral(pseudonym: str) -> dict:
    today = str(london_date(datetime.now(UTC)))
    return {"pseudonym": pseudonym, "age_band": "5-9", "summary": "Race test", "incident_date": today,
            "awareness_date": today, "referring_agency": "police"}


async def clients_for(replicas: Replicas) -> tuple[list[httpx.AsyncClient], dict]:
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in replicas.urls]
    token = await clients[0].post("/api/auth/token", data={"username": "strategy.manager",
                                                            "password": replicas.password})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    for client in clients:  # an open connection each, so the racing requests leave together
        assert (await client.get("/api/me", headers=headers)).status_code == 200
    return clients, headers


async def test_the_first_referrals_of_a_year_on_two_replicas_all_open_cases(replicas):
    year = london_date(datetime.now(UTC)).year
    with Session(replicas.engine) as session:
        assert session.get(ReferenceCounter, ("RR", year)) is None, "this runs before any other referral of the year"
    clients, headers = await clients_for(replicas)
    try:
        answers = await asyncio.gather(*(client.post("/api/cases", headers=headers, json=referral(f"First-{n}"))
                                         for n in range(3) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    assert [answer.status_code for answer in answers] == [201] * 6, [answer.text for answer in answers]
    references = [answer.json()["reference"] for answer in answers]
    assert sorted(references) == [f"RR-{year}-{n:03d}" for n in range(1, 7)], "distinct, in order, none skipped"


async def test_one_key_sent_to_two_replicas_at_once_opens_one_case(replicas):
    clients, headers = await clients_for(replicas)
    run = uuid.uuid4().hex[:8]
    at_once = asyncio.Semaphore(PAIRS_AT_ONCE)

    async def pair(number: int) -> list[httpx.Response]:
        keyed = {**headers, "Idempotency-Key": f"race-{run}-{number}"}
        async with at_once:
            return await asyncio.gather(*(client.post("/api/cases", headers=keyed, json=referral(f"Pair-{number}"))
                                          for client in clients))

    try:
        pairs = await asyncio.gather(*(pair(number) for number in range(PAIRS)))
    finally:
        for client in clients:
            await client.aclose()

    refused = [answer.text for answers in pairs for answer in answers if answer.status_code != 201]
    assert refused == [], f"{len(refused)} of {2 * PAIRS} answers were not the case: {refused[:3]}"
    differing = [number for number, (first, second) in enumerate(pairs)
                 if first.json()["reference"] != second.json()["reference"]]
    assert differing == [], f"{len(differing)} keys answered with two different cases"
    with Session(replicas.engine) as session:
        opened = Counter(session.exec(select(CaseRecord.pseudonym).where(CaseRecord.pseudonym.like("Pair-%"))))
        keys = session.exec(select(IdempotentRequest.case_reference)
                            .where(IdempotentRequest.key.like(f"race-{run}-%"))).all()
        cases = session.exec(select(func.count()).select_from(CaseRecord)).one()
        counter = session.get(ReferenceCounter, ("RR", london_date(datetime.now(UTC)).year))
    assert len(opened) == PAIRS and set(opened.values()) == {1}, "each key opened exactly one case"
    assert sorted(keys) == sorted(pairs[n][0].json()["reference"] for n in range(PAIRS))
    assert counter.last == cases, "every number given out is a case (a racing replica gave its number back)"
