"""/metrics for Prometheus: the state of the cases and of the service's own machinery, in the text format.

Protected by a bearer token (RAPID_REVIEW_METRICS_TOKEN) that only the scraper holds: the figures carry no case
content, but how many cases a partnership has open, and where, is not for everyone. No token set: 404. The
Temporal SDK's own metrics (workflow task failures, activity attempts and latencies, schedule-to-start) are served
by each worker at TEMPORAL_METRICS_ADDRESS (service/platform/runner.py).
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func
from sqlmodel import select

from engine.calendar import london_date
from engine.vocabulary import Stage, TaskStatus
from records.db import read_session
from records.models import CaseRecord, OutboxMessage, Task, WorkerHeartbeat
from records.vocabulary import OutboxStatus
from service.deps import app_settings, audit_trail, database_engine, metrics_figures
from service.platform.effect_alerts import count_failing
from service.platform.engine_watch import count_mismatched
from service.platform.orphans import count_orphaned
from service.platform.worker import HEARTBEAT_STALE_SECONDS

router = APIRouter(tags=["health"])


def _gauge(name: str, help_text: str, samples: list[tuple[dict, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        label_text = ",".join(f'{key}="{value}"' for key, value in labels.items())
        lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")
    return lines


class Figures:
    """The last figures and when they were read. A scrape within ``every`` seconds of the last reading gets them
    again, so however many scrapers and replicas ask, the database counts at most once per interval; one reading
    at a time (a scrape that arrives during one waits for it)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._body: str | None = None
        self._read_at = 0.0

    def current(self, read: Callable[[], str]) -> str:
        with self._lock:
            if self._body is None or time.monotonic() - self._read_at >= self.every:
                self._body, self._read_at = read(), time.monotonic()
            return self._body


OPEN_STAGES = tuple(str(stage) for stage in Stage if stage != Stage.closed)


def collect(request: Request) -> str:
    """Every figure, read now from the database (and the audit chain's routine check). The cases counted are the
    open ones, found through the stage index (``IN``, not ``!=``), so closed cases of years past cost nothing."""
    today = london_date(datetime.now(UTC))
    with read_session(database_engine(request)) as session:
        open_cases = CaseRecord.stage.in_(OPEN_STAGES)
        by_stage = dict(session.exec(select(CaseRecord.stage, func.count()).where(open_cases)
                                     .group_by(CaseRecord.stage)).all())
        late = session.exec(select(func.count()).where(open_cases, CaseRecord.late == True)).one()  # noqa: E712
        overdue_cases = session.exec(select(func.count()).where(open_cases, CaseRecord.next_deadline_due < today)).one()
        overdue_tasks = session.exec(select(func.count()).select_from(Task)
                                     .where(Task.status == TaskStatus.open, Task.due_date < today)).one()
        outbox = dict(session.exec(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        oldest = session.exec(select(func.min(OutboxMessage.created_at))
                              .where(OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.sending)))).one()
        failing, orphaned, mismatched = count_failing(session), count_orphaned(session), count_mismatched(session)
        cutoff = datetime.now(UTC) - timedelta(seconds=HEARTBEAT_STALE_SECONDS)
        beats = session.exec(select(WorkerHeartbeat.last_seen)).all()
    workers = sum(1 for seen in beats if (seen if seen.tzinfo else seen.replace(tzinfo=UTC)) >= cutoff)
    chain = audit_trail(request).verify(full=False)
    backlog_age = 0.0
    if oldest is not None:
        backlog_age = (datetime.now(UTC) - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))).total_seconds()
    lines = [
        *_gauge("rapid_review_open_cases", "Open cases by stage.",
                [({"stage": str(stage)}, by_stage.get(stage, 0)) for stage in Stage if stage != Stage.closed]),
        *_gauge("rapid_review_late_cases", "Open cases that have missed a deadline.", [({}, late)]),
        *_gauge("rapid_review_overdue_deadlines", "Open cases whose next deadline has passed.", [({}, overdue_cases)]),
        *_gauge("rapid_review_overdue_tasks", "Open tasks past their due date.", [({}, overdue_tasks)]),
        *_gauge("rapid_review_outbox_messages", "E-mails in the outbox by status.",
                [({"status": status}, outbox.get(status, 0)) for status in OutboxStatus]),
        *_gauge("rapid_review_outbox_backlog_age_seconds", "Age of the oldest e-mail not yet sent.",
                [({}, backlog_age)]),
        *_gauge("rapid_review_audit_chain_intact", "1 if the audit chain checks intact, else 0.",
                [({}, 1 if chain.intact else 0)]),
        *_gauge("rapid_review_failing_effects", "Cases with a step that keeps failing (alerted).", [({}, failing)]),
        *_gauge("rapid_review_orphaned_cases", "Open cases the engine has no workflow for.", [({}, orphaned)]),
        *_gauge("rapid_review_engine_mismatched_cases",
                "Cases whose workflow was changed outside the service (reset, ended, another run; alerted).",
                [({}, mismatched)]),
        *_gauge("rapid_review_workers_polling", "Workers that reported polling recently.", [({}, workers)]),
    ]
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
async def metrics(request: Request) -> PlainTextResponse:
    token = app_settings(request).rapid_review_metrics_token
    if not token:
        raise HTTPException(404, "Metrics are off: set RAPID_REVIEW_METRICS_TOKEN to serve them")
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise HTTPException(401, "Send the metrics token: Authorization: Bearer <RAPID_REVIEW_METRICS_TOKEN>",
                            headers={"WWW-Authenticate": "Bearer"})
    body = await asyncio.to_thread(metrics_figures(request).current, lambda: collect(request))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")
