"""The API benchmark's baselines, run as processes beside the service: a bare API (the production app, the same
middleware, uvicorn configuration and auth dependencies, plus two bench-only routes) and a bare worker (a
workflow with one trivial update, on its own task queue, through a client connected as the service's are).

    python -m bench.bare api      # serves the app with the bench routes on API_PORT
    python -m bench.bare worker   # polls BARE_TASK_QUEUE until SIGTERM

Bench-only wiring: nothing here is mounted by the service itself."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from fastapi import APIRouter, HTTPException
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare_workflow import BARE_TASK_QUEUE, BareWorkflow, bare_workflow_id
from service.api.access import CaseActor, Reader
from service.deps import TemporalDep


async def start_bare_workflows(client: Client, count: int) -> None:
    """One bare workflow per load client (task completions each touch their own case's workflow)."""
    for number in range(count):
        await client.start_workflow(BareWorkflow.run, id=bare_workflow_id(number), task_queue=BARE_TASK_QUEUE,
                                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                    run_timeout=timedelta(hours=2))


router = APIRouter(prefix="/bench", include_in_schema=False)


@router.get("/bare-auth")
async def bare_auth(user: Reader) -> dict:
    """Behind the board list's and case state's auth dependency, and nothing else."""
    return {"user": user.username}


@router.post("/bare-update/{number}")
async def bare_update(number: int, user: CaseActor, temporal: TemporalDep) -> dict:
    """Behind a task completion's auth dependency: one trivial update to a trivial workflow."""
    client = await temporal.client()
    try:
        count = await client.get_workflow_handle(bare_workflow_id(number)).execute_update(BareWorkflow.touch)
    except WorkflowUpdateFailedError as error:
        raise HTTPException(409, str(error)) from None
    return {"count": count, "by": user.username}


def bench_app():
    """The production app with the bench routes."""
    from service.app import create_app

    app = create_app()
    app.include_router(router)
    return app


def serve_api(sibling: bool = False) -> None:
    """As `rapid-review api` serves: as many processes on the port as it would run
    (service/platform/api_processes.py)."""
    import uvicorn

    from service.platform.api_processes import default_api_processes, shared_socket, start_siblings
    from service.platform.runner import api_server_config, stop_process
    from service.platform.settings import get_settings

    settings = get_settings()
    processes = 1 if sibling else settings.api_workers or default_api_processes()
    sock = shared_socket(settings.api_host, settings.api_port) if processes > 1 or sibling else None
    siblings = start_siblings("bench.bare", ["api-sibling"], processes - 1)
    try:
        uvicorn.Server(api_server_config(bench_app(), settings)).run(sockets=[sock] if sock else None)
    finally:
        for process in siblings:
            stop_process(process)


async def serve_worker() -> None:
    from temporalio.worker import Worker

    from service.platform.settings import get_settings
    from service.platform.temporal import connect_with

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = await connect_with(get_settings())
    async with Worker(client, task_queue=BARE_TASK_QUEUE, workflows=[BareWorkflow]):
        await stop.wait()


if __name__ == "__main__":
    part = sys.argv[1] if len(sys.argv) > 1 else ""
    if part in ("api", "api-sibling"):
        serve_api(sibling=part == "api-sibling")
    elif part == "worker":
        asyncio.run(serve_worker())
    else:
        raise SystemExit("usage: python -m bench.bare api|worker")
