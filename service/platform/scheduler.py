"""Periodic jobs inside the service (APScheduler 3), safe with more than one service process.

| job | when (Europe/London) | once across processes by |
| --- | --- | --- |
| daily_digest | 07:00 daily | its (job, day) row in job_run |
| archive_histories | 01:00 daily | its (job, day) row in job_run |
| check_audit_chain | 02:00 daily (full walk, then an anchor file) | its (job, day) row in job_run |
| anchor_audit_head | hourly (an anchor file if the head or checkpoint moved) | idempotent (same state, no file) |
| outbox_sender (and Notify receipts) | every 30 s (SMTP or Notify set) | a renewed lease per message (outbox.py) |
| outbox_give_up_abandoned | every 10 min (SMTP or Notify set) | idempotent |
| prune_worker_heartbeats | hourly | idempotent |
| check_orphans | at start-up, then hourly | idempotent (marks open cases with no workflow, or another run or status) |
| watch_engine | every 5 s (the engine's running case workflows against the open cases) | idempotent |

A daily job missed while the service was down (its time passed with no row for the day) runs at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, delete

from engine.calendar import london_date
from records.db import session_scope
from records.models import WorkerHeartbeat
from service.platform import jobs
from service.platform.audit_trail import AuditTrail
from service.platform.engine_watch import WATCH_SECONDS, check_open_cases, mark_of, watch_running
from service.platform.outbox import deliver_pending, give_up_abandoned
from service.platform.settings import Settings
from service.platform.temporal import TemporalConnection, codec_for

log = logging.getLogger(__name__)


def prune_worker_heartbeats(engine: Engine, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget workers that stopped without saying so (killed), so /readyz lists only live ones."""
    cutoff = datetime.now(UTC) - older_than
    with session_scope(engine) as session:
        result = session.exec(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < cutoff))
        return result.rowcount or 0


class DailyJob(NamedTuple):
    name: str
    hour: int
    minute: int


DAILY_JOBS = (DailyJob("archive_histories", 1, 0), DailyJob("check_audit_chain", 2, 0),
              DailyJob("daily_digest", 7, 0))


class Jobs:
    """The daily jobs bound to this process's database, settings and Temporal connection."""

    def __init__(self, engine: Engine, settings: Settings, temporal: TemporalConnection, holder: str = jobs.HOLDER):
        self.engine, self.settings, self.temporal, self.holder = engine, settings, temporal, holder
        self.audit_trail = AuditTrail.from_settings(engine, settings)
        self.watch_failing = False

    async def work(self, name: str, day) -> dict:
        url = self.settings.rapid_review_public_url
        if name == "daily_digest":
            return await asyncio.to_thread(jobs.send_daily_digest, self.engine, url, day)
        if name == "check_audit_chain":
            return await asyncio.to_thread(jobs.check_audit_chain, self.audit_trail, url, day)
        return await jobs.archive_histories(self.engine, self.temporal.client,
                                            codec_for(self.settings))

    async def check_orphans(self) -> dict | None:
        """Mark open cases the engine has no workflow for, or whose workflow was changed outside the service
        (service/platform/engine_watch.py); a failure waits an hour."""
        try:
            return await check_open_cases(self.engine, await self.temporal.client(),
                                          audit_key=self.settings.audit_key_bytes,
                                          public_url=self.settings.rapid_review_public_url)
        except Exception:
            log.warning("could not check open cases against the Temporal server", exc_info=True)
            return None

    async def watch_engine(self) -> None:
        """The engine's running case workflows against the cases on record (engine_watch.watch_running); a failure
        is logged once until the engine's list answers again (not every 5 s), and reads stop trusting the watch."""
        try:
            await watch_running(self.engine, await self.temporal.client(),
                                mark_of(self.temporal.address, self.temporal.namespace),
                                audit_key=self.settings.audit_key_bytes,
                                public_url=self.settings.rapid_review_public_url)
        except Exception:
            if not self.watch_failing:
                log.warning("could not look at the Temporal server's list of workflows; looking again every %d s",
                            WATCH_SECONDS, exc_info=True)
            self.watch_failing = True
            return
        if self.watch_failing:
            log.warning("the Temporal server's list of workflows answers again")
            self.watch_failing = False

    async def anchor_audit_head(self) -> dict | None:
        """The hourly anchor (jobs.anchor_audit_head); a failure is logged and retried next hour."""
        try:
            return await asyncio.to_thread(jobs.anchor_audit_head, self.audit_trail)
        except Exception:
            log.exception("could not anchor the audit head in the anchor store")
            return None

    async def run(self, name: str, now: datetime | None = None) -> dict | None:
        """Run the named daily job for today (London) unless it has run."""
        day = london_date(now or datetime.now(UTC))
        return await jobs.run_once(self.engine, name, day.isoformat(), lambda: self.work(name, day), self.holder)

    async def catch_up(self, now: datetime | None = None) -> dict[str, dict | None]:
        """At start-up: each daily job whose time today has passed and that has not run today runs now."""
        now = now or datetime.now(UTC)
        local = now.astimezone(ZoneInfo("Europe/London"))
        try:  # the audit chain's first anchor now rather than at 02:00 (see AuditTrail.write_anchor)
            await asyncio.to_thread(self.audit_trail.anchor_if_none, local.date())
        except Exception:
            log.exception("could not write the first audit anchor")
        done = {}
        for job in DAILY_JOBS:
            if (local.hour, local.minute) >= (job.hour, job.minute):
                try:
                    done[job.name] = await self.run(job.name, now)
                except Exception:  # one failing job must not stop the others; it is retried next time
                    log.exception("catch-up of %s failed", job.name)
        return done


def _quiet_watch(record: logging.LogRecord) -> bool:
    """APScheduler logs each run of each job at INFO: not the watch's, every 5 s (its failures are logged)."""
    return record.levelno > logging.INFO or "watch_engine" not in record.getMessage()


def build_scheduler(engine: Engine, settings: Settings, temporal: TemporalConnection | None = None
                    ) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="Europe/London", job_defaults={"coalesce": True, "misfire_grace_time": 3600})
    temporal = temporal or TemporalConnection.from_settings(settings)
    daily = Jobs(engine, settings, temporal)
    for job in DAILY_JOBS:
        scheduler.add_job(daily.run, "cron", hour=job.hour, minute=job.minute, args=[job.name], id=job.name)
    scheduler.add_job(daily.catch_up, "date", id="catch_up")  # runs once, as soon as the scheduler starts
    scheduler.add_job(prune_worker_heartbeats, "interval", hours=1, args=[engine], id="prune_worker_heartbeats")
    scheduler.add_job(daily.anchor_audit_head, "interval", hours=1, id="anchor_audit_head")
    scheduler.add_job(daily.check_orphans, "interval", hours=1, id="check_orphans",
                      next_run_time=datetime.now(UTC) + timedelta(seconds=5))
    scheduler.add_job(daily.watch_engine, "interval", seconds=WATCH_SECONDS, id="watch_engine")
    logging.getLogger("apscheduler.executors.default").addFilter(_quiet_watch)
    if settings.smtp_host or settings.notify_api_key:
        scheduler.add_job(deliver_pending, "interval", seconds=30, args=[engine, settings], id="outbox_sender")
        scheduler.add_job(give_up_abandoned, "interval", minutes=10, args=[engine], id="outbox_give_up_abandoned")
    return scheduler
