"""The Temporal worker: runs the workflows of every registered review type and their activities, and reports its
own liveness."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from records.db import session_scope
from records.models import WorkerHeartbeat
from reviews.review_types import REVIEW_TYPES  # the registry, with the service's own types registered
from service.platform.effect_alerts import EFFECT_ALERT_ATTEMPTS, clear_effect_alert, raise_effect_alert
from service.platform.settings import Settings
from service.platform.temporal import codec_for

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 20.0
# Touched with every heartbeat that reached the database: the container's health check reads its age
# (docker-compose.yml), so a worker that hangs or lost its database shows unhealthy without a query of its own.
ALIVE_FILE = "worker-alive"
# On SIGTERM the worker stops polling and gives the activities in hand this long to finish; docker-compose.yml's
# stop_grace_period is longer, so none is killed mid-write. No activity needs heartbeats: each is one short
# database transaction or one document render, bounded by the workflows' 60 s start-to-close timeout, and one
# cut short is retried (idempotently) by another worker.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)


# `holidays` is passed through so the sandbox never re-imports it (workflows read only the table
# that engine.calendar builds at import); `engine.authenticity` so workflows see the sealing keys.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "holidays", "dateutil", "six", "engine.authenticity")
)


class ActivityGuard(Interceptor):
    """Every activity, in one place: no case text in failures, data errors not retried, stuck steps alerted.

    An error's message can carry case data (PostgreSQL's DETAIL line repeats the failing row; a template or
    converter error quotes its input), and that message would travel into the worker's log and the engine's
    history. It is replaced by its class and SQLSTATE, or its class and where it was raised. A data error (a
    value the database can never take) fails at once instead of freezing the case in endless retries; a failure
    that reaches EFFECT_ALERT_ATTEMPTS attempts is logged as an ALERT, flags the case and e-mails the admins
    (service/platform/effect_alerts.py; the case's lock is held meanwhile); the flag clears when the step succeeds.
    """

    def __init__(self, engine: Engine | None = None, public_url: str = "") -> None:
        self.engine, self.public_url = engine, public_url

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _GuardedActivity(next, self)


class _GuardedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, guard: ActivityGuard) -> None:
        super().__init__(next)
        self.guard = guard

    async def execute_activity(self, input: ExecuteActivityInput):
        info = activity.info()
        try:
            result = await super().execute_activity(input)
        except DBAPIError as error:
            code = getattr(error.orig, "sqlstate", None) or type(error.orig).__name__
            message = f"{info.activity_type}: database error {type(error).__name__} ({code}); details withheld"
            await self._alert_if_stuck(info, message)
            raise ApplicationError(message, type=type(error).__name__,
                                   non_retryable=isinstance(error, DataError)) from None
        except ApplicationError:
            raise  # the service's own refusals say nothing of the case
        except Exception as error:
            # Any other error (a template, a converter, the file system) may carry case text in its message: the
            # log and the history get its kind and where it happened, which is what an operator needs first.
            frame = traceback.extract_tb(error.__traceback__)[-1]
            message = (f"{info.activity_type}: {type(error).__name__} at {Path(frame.filename).name}:{frame.lineno} "
                       f"in {frame.name}; details withheld")
            await self._alert_if_stuck(info, message)
            raise ApplicationError(message, type=type(error).__name__) from None
        if info.attempt > 1 and self.guard.engine is not None:
            await self._quietly(clear_effect_alert, self.guard.engine, info.workflow_id)
        return result

    async def _alert_if_stuck(self, info: activity.Info, what: str) -> None:
        if info.attempt < EFFECT_ALERT_ATTEMPTS:
            return
        log.error("ALERT: step of workflow %s has failed %d times and is still retried: %s",
                  info.workflow_id, info.attempt, what)
        if self.guard.engine is not None:
            await self._quietly(raise_effect_alert, self.guard.engine, workflow_id=info.workflow_id, what=what,
                                attempt=info.attempt, public_url=self.guard.public_url)

    @staticmethod
    async def _quietly(function, *args, **kwargs) -> None:
        """The alert's own writes must not turn the step's outcome into another error (the database may be what
        fails)."""
        try:
            await asyncio.to_thread(function, *args, **kwargs)
        except Exception as error:
            log.warning("ALERT: the case's alert flag could not be written (%s)", type(error).__name__)


WORKFLOW_CACHE_MIB = 0.6  # a cached case workflow's memory, measured (issue 28)
WORKFLOW_CACHE_SHARE = 0.25  # of the memory the worker may use
WORKFLOW_CACHE_BOUNDS = (100, 10_000)


def memory_limit_bytes() -> int:
    """The memory this process may use: its cgroup's limit (a container's), else the machine's."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            return int(limit)
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def max_cached_workflows(settings: Settings) -> int:
    """The sticky cache's size: the setting, else what fits in a share of memory. Temporal's own default (1000
    with no regard to memory) lets a small container's worker be killed for its memory as cases accumulate."""
    if not settings.temporal_sticky_workflows:
        return 0
    if settings.temporal_max_cached_workflows is not None:
        return settings.temporal_max_cached_workflows
    fits = int(memory_limit_bytes() * WORKFLOW_CACHE_SHARE / (WORKFLOW_CACHE_MIB * 2**20))
    low, high = WORKFLOW_CACHE_BOUNDS
    return max(low, min(high, fits))


def render_processes(settings: Settings) -> int:
    """The document renderers beside a worker: as set, or one per core the worker may run on but one (at least
    one), so renders and the worker's own work each have a core."""
    return settings.rapid_review_render_processes or max(1, len(os.sched_getaffinity(0)) - 1)


def build_worker(client: Client, settings: Settings, engine: Engine, **options) -> Worker:
    """The one worker configuration (the service, the tests and the benchmarks all use it). ``options`` go to the
    worker; ``interceptors`` among them come after the guard (a test's, holding an activity back)."""
    from activities import build_activities
    from activities.rendering import Renderer

    renderer = Renderer(render_processes(settings))
    renderer.warm()
    interceptors = [ActivityGuard(engine, settings.rapid_review_public_url), *options.pop("interceptors", ())]
    options.setdefault("max_cached_workflows", max_cached_workflows(settings))
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=REVIEW_TYPES.workflows(settings.temporal_task_queue),
        activities=build_activities(engine, public_url=settings.rapid_review_public_url, codec=codec_for(settings),
                                    audit_key=settings.audit_key_bytes, document_store=settings.document_store(),
                                    renderer=renderer),
        activity_executor=ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity"),
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=interceptors,
        **options,
    )


def record_heartbeat(engine: Engine, worker_id: str, task_queue: str) -> None:
    with session_scope(engine) as session:
        row = session.get(WorkerHeartbeat, worker_id)
        if row is None:
            row = WorkerHeartbeat(worker_id=worker_id, task_queue=task_queue, last_seen=datetime.now(UTC))
        row.last_seen = datetime.now(UTC)
        session.add(row)


def forget_heartbeat(engine: Engine, worker_id: str) -> None:
    with session_scope(engine) as session:
        row = session.get(WorkerHeartbeat, worker_id)
        if row is not None:
            session.delete(row)


async def run_worker(client: Client, settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set; while the worker polls, a heartbeat row says so."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(stop):x}"
    worker = build_worker(client, settings, engine, graceful_shutdown_timeout=GRACEFUL_SHUTDOWN)
    # What is loaded by now lives as long as the process: full collections need not scan it again and again.
    gc.collect()
    gc.freeze()
    alive = settings.var_dir / ALIVE_FILE
    alive.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def heartbeat() -> None:
        while True:
            try:
                await asyncio.to_thread(record_heartbeat, engine, worker_id, settings.temporal_task_queue)
                alive.touch()
            except Exception:  # a database blip must not stop the worker; readyz and the health check show it
                log.warning("worker heartbeat could not be written", exc_info=True)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async with worker:
        beat = asyncio.create_task(heartbeat())
        log.info("worker polling task queue %s", settings.temporal_task_queue)
        try:
            await stop.wait()
        finally:
            beat.cancel()
            alive.unlink(missing_ok=True)
            await asyncio.to_thread(forget_heartbeat, engine, worker_id)
