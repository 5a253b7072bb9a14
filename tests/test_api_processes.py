"""`rapid-review api` runs API_WORKERS processes on one port (service/platform/api_processes.py): the first starts the
others, which serve the same port, and they stop with it, even when it is killed outright (none keeps the port)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

from service.platform.runner import free_port
from tests.conftest import TEST_AUDIT_KEY, TEST_KEY


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        return [int(child) for child in listed.read().split()]


def gone(pid: int, within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split()[2] == "Z":  # exited, not yet reaped
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.1)
    return False


def test_api_workers_share_the_port_and_stop_with_the_first_even_when_it_is_killed(tmp_path, settings, engine):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "RAPID_REVIEW_ENCRYPTION_KEY": TEST_KEY,
           "SECRET_KEY": settings.secret_key, "RAPID_REVIEW_AUDIT_KEY": TEST_AUDIT_KEY, "API_PORT": str(port),
           "RAPID_REVIEW_VAR_DIR": str(tmp_path / "var"), "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
           "API_WORKERS": "2"}
    first = subprocess.Popen([sys.executable, "-m", "service.cli", "api", "--no-scheduler"], env=env,  # noqa: S603
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # until the port answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5) as answer:  # noqa: S310
                    assert answer.status == 200
                    break
            except OSError:
                time.sleep(0.1)
        siblings = children(first.pid)
        assert len(siblings) == 1
        assert "--sibling" in open(f"/proc/{siblings[0]}/cmdline").read()
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert gone(siblings[0]), "the second API process outlived the first"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_connections_on_the_shared_port_send_answers_without_waiting_for_an_ack():
    """Nagle's algorithm off on every accepted connection, as uvicorn's own bind has it: with it on, a kept-alive
    client's next answer waited 40 ms for its body (the delayed ACK of the headers), doubling a task completion."""
    import asyncio
    import socket

    from service.platform.api_processes import shared_socket

    async def accepted_nodelay() -> int:
        found = asyncio.get_running_loop().create_future()

        async def handle(reader, writer):
            found.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        port = free_port()
        server = await asyncio.start_server(handle, sock=shared_socket("127.0.0.1", port))
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await asyncio.wait_for(found, 10)
            finally:
                writer.close()

    assert asyncio.run(accepted_nodelay()) != 0
