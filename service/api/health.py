"""Liveness and readiness for operators, load balancers and orchestrators (no sign-in, no case data).

Three answers, for three askers:
- `/healthz`: the process answers HTTP at all (no I/O; the benchmarks' baseline).
- `/livez`: this API replica can serve people: the process answers and its database does. What the reverse proxy
  and the compose health check route by. Temporal and the workers are left out on purpose: while they are away
  the board, case pages, task lists and documents still serve from the database (actions answer 503 naming the
  engine), so a replica must not leave the pool for what every replica shares.
- `/readyz`: the whole service can act: the database, Temporal and a worker polling the task queue, with the
  counts an operator watches (orphaned cases, failing steps,
  workflows changed outside the service). What monitoring and the start-up waits ask.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session, select

from records.db import read_session
from records.models import WorkerHeartbeat
from service.deps import app_settings, database_engine, temporal_connection
from service.platform.effect_alerts import count_failing
from service.platform.engine_watch import count_mismatched
from service.platform.orphans import count_orphaned
from service.platform.worker import HEARTBEAT_STALE_SECONDS

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """The process is alive and serving requests."""
    return {"status": "alive"}


def _database_answers(session: Session) -> None:
    session.exec(text("SELECT 1"))


def _database_check(request: Request) -> tuple[bool, str]:
    try:
        with read_session(database_engine(request)) as session:
            _database_answers(session)
    except Exception as exc:  # any failure means "not live"
        return False, f"database does not answer ({type(exc).__name__})"
    return True, "ok"


@router.get("/livez")
async def livez(request: Request) -> JSONResponse:
    """200 while this replica can serve pages: the process and its database answer (Temporal and the workers
    are /readyz's business, see the module's docstring)."""
    ok, detail = await asyncio.to_thread(_database_check, request)
    body = {"status": "live" if ok else "not live", "checks": {"database": {"ready": ok, "detail": detail}}}
    return JSONResponse(body, status_code=200 if ok else 503)


def _database_and_worker(request: Request) -> tuple[tuple[bool, str], tuple[bool, str], dict[str, int | None]]:
    settings = app_settings(request)
    try:
        with read_session(database_engine(request)) as session:
            _database_answers(session)
            cutoff = datetime.now(UTC) - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
            beats = session.exec(
                select(WorkerHeartbeat).where(WorkerHeartbeat.task_queue == settings.temporal_task_queue)
            ).all()
            counts = {"orphaned": count_orphaned(session), "failing": count_failing(session),
                      "mismatched": count_mismatched(session)}
    except Exception as exc:  # any failure means "not ready"
        return ((False, f"database does not answer ({type(exc).__name__})"), (False, "unknown: no database"),
                dict.fromkeys(("orphaned", "failing", "mismatched")))
    fresh = [b for b in beats if _aware(b.last_seen) >= cutoff]
    if fresh:
        worker = (True, f"{len(fresh)} worker(s) polling {settings.temporal_task_queue}")
    else:
        worker = (False, f"no worker has reported polling {settings.temporal_task_queue} in the last "
                  f"{HEARTBEAT_STALE_SECONDS:.0f} s")
    return (True, "ok"), worker, counts


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns naive UTC


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers, Temporal answers and a worker polls the task queue. Orphaned cases (open
    cases the engine has no workflow for) and cases with a failing step are counted: the service still serves
    every other case."""
    (db_ok, db_msg), (worker_ok, worker_msg), counts = await asyncio.to_thread(_database_and_worker, request)
    orphaned, failing, mismatched = counts["orphaned"], counts["failing"], counts["mismatched"]
    temporal_ok, temporal_msg = await temporal_connection(request).healthy()
    checks = {
        "database": {"ready": db_ok, "detail": db_msg},
        "temporal": {"ready": temporal_ok, "detail": temporal_msg},
        "worker": {"ready": worker_ok, "detail": worker_msg},
        "cases": {"ready": db_ok, "orphaned": orphaned,
                  "detail": "unknown: no database" if orphaned is None else (
                      f"{orphaned} open case(s) have no workflow on the Temporal server (orphaned)" if orphaned
                      else "every open case checked so far has its workflow")},
        # A case whose step keeps failing waits; the others are served, so the service stays ready.
        "effects": {"ready": db_ok, "failing": failing,
                    "detail": "unknown: no database" if failing is None else (
                        f"{failing} case(s) have a step that keeps failing (alerted; see the case page and the "
                        "worker's ALERT log lines)" if failing else "no case has a failing step")},
        # A case whose workflow was changed outside the service (reset, terminated, another run) is alerted and
        # refused; the others are served, so one tampered case does not take every replica out of the pool.
        "engine": {"ready": db_ok, "mismatched": mismatched,
                   "detail": "unknown: no database" if mismatched is None else (
                       f"{mismatched} case(s) have a workflow changed outside the service (alerted; see the case "
                       "page and the ALERT log lines)" if mismatched else
                       "every open case checked so far has the workflow the service started")},
    }
    ready = db_ok and temporal_ok and worker_ok
    not_ready = [name for name, check in checks.items() if not check["ready"]]
    body = {"status": "ready" if ready else "not ready", "not_ready": not_ready, "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
