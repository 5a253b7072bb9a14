"""Periodic housekeeping that belongs to no single case (APScheduler 3, inside the service)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, delete

from service.db import session_scope
from service.models import WorkerHeartbeat

log = logging.getLogger(__name__)


def prune_worker_heartbeats(engine: Engine, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget workers that stopped without saying so (killed), so /readyz lists only live ones."""
    cutoff = datetime.now(UTC) - older_than
    with session_scope(engine) as session:
        result = session.exec(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < cutoff))
        return result.rowcount or 0


def build_scheduler(engine: Engine) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="Europe/London", job_defaults={"coalesce": True, "misfire_grace_time": 3600})
    scheduler.add_job(prune_worker_heartbeats, "interval", hours=1, args=[engine], id="prune_worker_heartbeats")
    return scheduler
