"""API: p50 and p95 latency under 20 concurrent clients of the case board list, a case's state and a task
completion (the workflow update round trip), against GET /healthz in the same run; and the peak memory of the
API and worker processes. The service runs as it does in production: `rapid-review api` and `rapid-review
worker` processes against a real-time Temporal server and a SQLite database."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx

from bench.common import BENCH_KEY, bench_settings, engine_of, percentile, table, workdir
from records.db import session_scope
from service.accounts.users import create_demo_users
from service.platform.runner import ServiceProcesses, stop_process, wait_until_ready

CLIENTS = 20


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def phase(name: str, client: httpx.AsyncClient, calls) -> list[float]:
    """Each of the 20 clients makes its calls one after another; returns every latency."""
    latencies: list[float] = []

    async def one_client(own_calls):
        for call in own_calls:
            started = time.perf_counter()
            response = await call()
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(one_client(calls[i::CLIENTS]) for i in range(CLIENTS)))
    return latencies


async def load(base_url: str, passwords: dict, per_client: int) -> dict[str, list[float]]:
    limits = httpx.Limits(max_connections=CLIENTS * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        token = (await client.post("/api/auth/token", data={"username": "strategy.manager",
                                                            "password": passwords["strategy.manager"]})).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        today = datetime.now(UTC).date().isoformat()
        references = []
        for _ in range(CLIENTS * per_client):
            created = await client.post("/api/cases", headers=headers, json={
                "pseudonym": "Bench", "age_band": "5-9", "summary": "s", "incident_date": today,
                "awareness_date": today, "referring_agency": "police"})
            references.append(created.json()["reference"])
        tasks = (await client.get("/api/tasks?kind=decision&limit=200", headers=headers)).json()["items"]
        total = CLIENTS * per_client
        results = {}
        results["GET /healthz (baseline)"] = await phase("healthz", client, [lambda: client.get("/healthz")] * total)
        results["GET /api/cases (board list)"] = await phase(
            "list", client, [lambda: client.get("/api/cases?limit=50", headers=headers)] * total)
        results["GET /api/cases/{ref} (state)"] = await phase(
            "state", client, [lambda r=r: client.get(f"/api/cases/{r}", headers=headers) for r in references])
        results["POST /api/tasks/{id}/complete (update)"] = await phase(
            "complete", client, [lambda t=t: client.post(f"/api/tasks/{t['id']}/complete", headers=headers, json={})
                                 for t in tasks[:total]])
        return results


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
        worker, api = stack.start("worker"), stack.start("api --no-scheduler")
        idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # noqa: S603
        asyncio.run(wait_until_ready(stack.base_url))
        results = asyncio.run(load(stack.base_url, passwords, requests_per_client))
        memory = {"API": peak_rss_mb(api.pid), "worker": peak_rss_mb(worker.pid), "idle": peak_rss_mb(idle.pid)}
    finally:
        stop_process(idle)
        if stack is not None:
            stack.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    base = percentile(results["GET /healthz (baseline)"], 50)
    rows = [[name, len(values), percentile(values, 50) * 1000, percentile(values, 95) * 1000,
             percentile(values, 50) / base] for name, values in results.items()]
    latency = table(f"API latency ({CLIENTS} concurrent clients, real-time Temporal, SQLite)",
                    ["request", "requests", "p50 ms", "p95 ms", "p50 ratio to /healthz"], rows)
    peaks = table("Peak memory (VmHWM) after the load above",
                  ["process", "peak MiB", "ratio to an idle Python"],
                  [[name, memory[name], memory[name] / memory["idle"]] for name in ("API", "worker", "idle")])
    return latency + "\n" + peaks
