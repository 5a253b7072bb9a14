"""Periodic housekeeping that belongs to no single case (APScheduler 3, inside the service)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, delete

from activities.notifications import deliver_pending, release_stuck
from service.db import session_scope
from service.models import WorkerHeartbeat
from service.settings import Settings

log = logging.getLogger(__name__)


def prune_worker_heartbeats(engine: Engine, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget workers that stopped without saying so (killed), so /readyz lists only live ones."""
    cutoff = datetime.now(UTC) - older_than
    with session_scope(engine) as session:
        result = session.exec(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < cutoff))
        return result.rowcount or 0


def build_scheduler(engine: Engine, settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="Europe/London", job_defaults={"coalesce": True, "misfire_grace_time": 3600})
    scheduler.add_job(prune_worker_heartbeats, "interval", hours=1, args=[engine], id="prune_worker_heartbeats")
    if settings.smtp_host:
        scheduler.add_job(deliver_pending, "interval", seconds=30, args=[engine, settings], id="outbox_sender")
        scheduler.add_job(release_stuck, "interval", minutes=10, args=[engine], id="outbox_release_stuck")
    return scheduler
