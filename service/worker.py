"""The Temporal worker: runs the case workflows and their activities, and reports its own liveness."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from service.db import session_scope
from service.models import WorkerHeartbeat
from service.settings import Settings
from workflows import WORKFLOWS

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_STALE_SECONDS = 20.0


# `holidays` is passed through so the sandbox never re-imports it (workflows read only the table
# that workflows.calendar builds at import); `workflows.authenticity` so workflows see the sealing keys.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "holidays", "dateutil", "six", "workflows.authenticity")
)


ALERT_AFTER_ATTEMPTS = 5


class ActivityGuard(Interceptor):
    """Every activity, in one place: no case text in failures, data errors not retried, stuck steps alerted.

    An error's message can carry case data (PostgreSQL's DETAIL line repeats the failing row; a template or
    converter error quotes its input), and that message would travel into the worker's log and the engine's
    history. It is replaced by its class and SQLSTATE, or its class and where it was raised. A data error (a
    value the database can never take) fails at once instead of freezing the case in endless retries; a failure
    that reaches ALERT_AFTER_ATTEMPTS attempts is logged as an ALERT for the operators (the case's lock is held
    meanwhile).
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _GuardedActivity(next)


class _GuardedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput):
        info = activity.info()
        try:
            return await super().execute_activity(input)
        except DBAPIError as error:
            code = getattr(error.orig, "sqlstate", None) or type(error.orig).__name__
            message = f"{info.activity_type}: database error {type(error).__name__} ({code}); details withheld"
            if info.attempt >= ALERT_AFTER_ATTEMPTS:
                _alert(info, message)
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
            if info.attempt >= ALERT_AFTER_ATTEMPTS:
                _alert(info, message)
            raise ApplicationError(message, type=type(error).__name__) from None


def _alert(info: activity.Info, what: str) -> None:
    log.error("ALERT: step of workflow %s has failed %d times and is still retried: %s",
              info.workflow_id, info.attempt, what)


def build_worker(client: Client, settings: Settings, engine: Engine, **options) -> Worker:
    """The one worker configuration (the service, the tests and the benchmarks all use it)."""
    from activities import build_activities

    if not settings.temporal_sticky_workflows:
        options.setdefault("max_cached_workflows", 0)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=build_activities(engine, settings),
        activity_executor=ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity"),
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityGuard()],
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
    worker = build_worker(client, settings, engine)

    async def heartbeat() -> None:
        while True:
            try:
                await asyncio.to_thread(record_heartbeat, engine, worker_id, settings.temporal_task_queue)
            except Exception:  # a database blip must not stop the worker; readyz will show it
                log.warning("worker heartbeat could not be written", exc_info=True)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async with worker:
        beat = asyncio.create_task(heartbeat())
        log.info("worker polling task queue %s", settings.temporal_task_queue)
        try:
            await stop.wait()
        finally:
            beat.cancel()
            await asyncio.to_thread(forget_heartbeat, engine, worker_id)
