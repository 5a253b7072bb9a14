"""API: p50 and p95 latency of the case board list and a case's state under 20 concurrent clients, and of a task
completion (the workflow update round trip) under 1 and 20, each against its baseline in the same run: the reads
against a bare endpoint behind the same auth dependency (in three rounds of each in turn), the completion against
a bare update round trip (a trivial update to a trivial workflow) through the same API stack (bench/bare.py), in
turn (one client: one of each alternately; 20 clients: two rounds of each); and the peak memory of the API and
worker processes. The service runs as it does in production: `rapid-review api` (its scheduler too: the engine
watch that lets a read trust it) and `rapid-review worker` processes against a real-time Temporal server and a
SQLite database; the baselines' API and worker are processes of their own, built from the same app and client."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx

from bench.bare import start_bare_workflows
from bench.common import BENCH_KEY, bench_settings, engine_of, percentile, table, workdir
from records.db import session_scope
from service.accounts.users import create_demo_users
from service.platform.api_processes import default_api_processes
from service.platform.runner import ServiceProcesses, free_port, stop_process, wait_until_ready
from service.platform.temporal import connect

CLIENTS = 20


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def phase(name: str, client: httpx.AsyncClient, calls, clients: int = CLIENTS) -> list[float]:
    """Each of ``clients`` clients makes its calls one after another (call i is client i % clients's); returns
    every latency."""
    latencies: list[float] = []

    async def one_client(own_calls):
        for call in own_calls:
            started = time.perf_counter()
            response = await call()
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(one_client(calls[i::clients]) for i in range(clients)))
    return latencies


ALONE = 30  # requests of the one-client phases, each taken in turn with its baseline's
READ_ROUNDS = 3  # rounds of the read phases, each of every read and the bare endpoint in turn
UPDATE_ROUNDS = 2  # rounds of the 20-client update phases, each of the completions and the bare updates in turn


async def load(base_url: str, bare_url: str, passwords: dict, per_client: int) -> dict[tuple[str, int], list[float]]:
    """Each measured request's latencies, by (name, clients)."""
    # Idle connections are dropped before the API's 5 s keep-alive ends (service/platform/runner.py): a request sent
    # on one the server is closing meanwhile is lost ("Server disconnected"), as seen once under CI's load.
    limits = httpx.Limits(max_connections=CLIENTS * 2, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client, \
            httpx.AsyncClient(base_url=bare_url, timeout=60, limits=limits) as bare:
        token = (await client.post("/api/auth/token", data={"username": "strategy.manager",
                                                            "password": passwords["strategy.manager"]})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        today = datetime.now(UTC).date().isoformat()
        total = CLIENTS * per_client
        references = []
        for _ in range(total + ALONE):
            created = await client.post("/api/cases", headers=headers, json={
                "pseudonym": "Bench", "age_band": "5-9", "summary": "s", "incident_date": today,
                "awareness_date": today, "referring_agency": "police"})
            if created.status_code not in (201, 202):
                raise RuntimeError(f"referral: {created.status_code} {created.text[:300]}")
            references.append(created.json()["reference"])
        tasks = []
        while len(tasks) < total + ALONE:  # pages of at most 200
            page = (await client.get(f"/api/tasks?kind=decision&limit=200&offset={len(tasks)}",
                                     headers=headers)).json()["items"]
            if not page:
                break
            tasks += page
        if len(tasks) < total + ALONE:
            raise RuntimeError(f"only {len(tasks)} decision tasks for {total + ALONE} completions")

        def complete(task):
            return lambda: client.post(f"/api/tasks/{task['id']}/complete", headers=headers, json={})

        def bare_update(number):
            return lambda: bare.post(f"/bench/bare-update/{number}", headers=headers)

        # The bare API is a fresh process: warm it (its first requests load what the service's have loaded).
        await phase("warm-up", bare, [lambda: bare.get("/bench/bare-auth", headers=headers)] * CLIENTS * 2)
        await phase("warm-up", bare, [bare_update(i % CLIENTS) for i in range(CLIENTS * 2)])
        results = {}
        reads = {
            HEALTHZ: (client, [lambda: client.get("/healthz")] * total),
            BARE_AUTH: (bare, [lambda: bare.get("/bench/bare-auth", headers=headers)] * total),
            LIST: (client, [lambda: client.get("/api/cases?limit=50", headers=headers)] * total),
            STATE: (client, [lambda r=r: client.get(f"/api/cases/{r}", headers=headers) for r in references[:total]]),
        }
        for _ in range(READ_ROUNDS):  # the reads and their baseline take turns: a drift of the machine meets all alike
            for name, (through, calls) in reads.items():
                results.setdefault((name, CLIENTS), []).extend(await phase(name, through, calls))
        for task in tasks[total:total + ALONE]:  # one client: a bare update and a completion in turn
            results.setdefault((BARE_UPDATE, 1), []).extend(
                await phase("bare update", bare, [bare_update(0)], clients=1))
            results.setdefault((COMPLETE, 1), []).extend(await phase("complete", client, [complete(task)], clients=1))
        for start in range(0, total, total // UPDATE_ROUNDS):  # 20 clients: rounds of each in turn
            results.setdefault((BARE_UPDATE, CLIENTS), []).extend(await phase(
                "bare update", bare, [bare_update(i % CLIENTS) for i in range(total // UPDATE_ROUNDS)]))
            results.setdefault((COMPLETE, CLIENTS), []).extend(await phase(
                "complete", client, [complete(t) for t in tasks[start:start + total // UPDATE_ROUNDS]]))
        return results


HEALTHZ = "GET /healthz"
BARE_AUTH = "GET bare endpoint, same auth dependency (baseline)"
LIST = "GET /api/cases (board list)"
STATE = "GET /api/cases/{ref} (state)"
BARE_UPDATE = "POST bare update round trip, same API stack (baseline)"
COMPLETE = "POST /api/tasks/{id}/complete (update)"
BASELINE = {  # measured request -> (its baseline, the goal for the ratio of their p50s)
    (LIST, CLIENTS): (BARE_AUTH, 2), (STATE, CLIENTS): (BARE_AUTH, 2),
    (COMPLETE, CLIENTS): (BARE_UPDATE, 2), (COMPLETE, 1): (BARE_UPDATE, 2),
}


def start_bare(stack: ServiceProcesses, part: str, port: int) -> subprocess.Popen:
    """A baseline process (bench/bare.py) with the service's environment, stopped with the stack."""
    process = subprocess.Popen([sys.executable, "-m", "bench.bare", part],  # noqa: S603
                               env={**stack.env, "API_PORT": str(port)}, stdout=stack.log, stderr=subprocess.STDOUT)
    stack.processes.append(process)
    return process


async def start_bare_workflows_on(stack: ServiceProcesses, settings) -> None:
    client = await connect(stack.address, settings.temporal_namespace, settings.encryption_key_bytes)
    await start_bare_workflows(client, CLIENTS)


def run(requests_per_client: int = 10) -> str:
    directory = workdir()
    stack = idle = None
    try:
        settings = bench_settings(directory)
        with session_scope(engine_of(settings)) as session:
            passwords = create_demo_users(session, settings.audit_key_bytes)
        # Sticky workflows as on a production Temporal server: no worker is killed here.
        stack = ServiceProcesses(directory, settings.sqlalchemy_url, BENCH_KEY, settings.secret_key,
                                 audit_key=settings.rapid_review_audit_key, sticky=True)
        worker, api = stack.start("worker"), stack.start("api")  # its scheduler too, as in production
        bare_port = free_port()
        start_bare(stack, "worker", bare_port)
        start_bare(stack, "api", bare_port)
        idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # noqa: S603
        bare_url = f"http://127.0.0.1:{bare_port}"
        asyncio.run(wait_until_ready(stack.base_url))
        asyncio.run(wait_until_ready(bare_url))
        asyncio.run(start_bare_workflows_on(stack, settings))
        results = asyncio.run(load(stack.base_url, bare_url, passwords, requests_per_client))
        memory = {"API": peak_rss_mb(api.pid), "worker": peak_rss_mb(worker.pid), "idle": peak_rss_mb(idle.pid)}
    finally:
        stop_process(idle)
        if stack is not None:
            stack.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    p50 = {key: percentile(values, 50) for key, values in results.items()}
    healthz = p50[(HEALTHZ, CLIENTS)]
    rows = []
    for (name, clients), values in results.items():
        baseline, goal = BASELINE.get((name, clients), (None, None))
        ratio = p50[(name, clients)] / p50[(baseline, clients)] if baseline else ""
        rows.append([name, clients, len(values), p50[(name, clients)] * 1000, percentile(values, 95) * 1000,
                     p50[(name, clients)] / healthz, ratio, f"≤ {goal}" if goal else ""])
    processes = settings.api_workers or default_api_processes()
    latency = table(f"API latency ({processes} API processes, real-time Temporal, SQLite; baselines from "
                    "bench/bare.py in the same run)",
                    ["request", "clients", "requests", "p50 ms", "p95 ms", "p50 / /healthz",
                     "p50 / its baseline", "goal"], rows)
    peaks = table("Peak memory (VmHWM) after the load above",
                  ["process", "peak MiB", "ratio to an idle Python"],
                  [[name, memory[name], memory[name] / memory["idle"]] for name in ("API", "worker", "idle")])
    return latency + "\n" + peaks
