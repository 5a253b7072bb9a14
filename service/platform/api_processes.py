"""The API as several processes on one port: each binds it with SO_REUSEPORT and the kernel spreads the connections
among them. One Python process runs one request's Python at a time; the API's CPU per request (auth, validation,
templates) is what bounds its throughput under many clients, so a machine with more cores serves them in parallel.
The first process (the one started) runs the scheduler, if asked, and starts the others; they stop with it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def default_api_processes() -> int:
    """One API process per core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


def shared_socket(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound so that the other API processes can bind the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP, as uvicorn's own bind would have it: asyncio turns Nagle's algorithm off only on connections it
    # knows are TCP (proto 0 left it on, and a kept-alive client then waited 40 ms for the body of each answer).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(False)
    return sock


def start_siblings(module: str, args: list[str], count: int) -> list[subprocess.Popen]:
    """``count`` more API processes: ``python -m module *args``, each serving the shared port without a scheduler;
    each is SIGTERMed when this process dies, even killed outright (no orphan keeps the port)."""
    from service.platform.runner import _die_with_parent

    return [subprocess.Popen([sys.executable, "-m", module, *args], preexec_fn=_die_with_parent)  # noqa: S603, PLW1509
            for _ in range(count)]
