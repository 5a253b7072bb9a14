"""`rapid-review dev` brings up the whole embedded stack, serves a signed-in user, and stops cleanly."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.platform.runner import free_port


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket these processes listen on, read from /proc (IPv4 and IPv6)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                if table == "tcp":
                    host = socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
                else:
                    host = socket.inet_ntop(socket.AF_INET6, b"".join(
                        bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, 32, 8)))
                found.add((host, int(port, 16)))
    return found


def test_dev_stack_starts_serves_and_stops_without_orphans(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"TEMPORAL_ADDRESS", "DATABASE_URL", "RAPID_REVIEW_MODE"}}
    env.update(API_PORT=str(port), RAPID_REVIEW_VAR_DIR=str(tmp_path / "var"))
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "dev"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, ready.text if ready else "never answered"
        assert ready.json()["checks"]["worker"]["ready"] is True

        credentials = json.loads((tmp_path / "var" / "demo-credentials.txt").read_text())
        assert {"strategy.manager", "panel.chair", "csc.lead", "exec.la", "auditor", "admin"} <= set(credentials)
        token = httpx.post(
            f"{base}/api/auth/token", data={"username": "panel.chair", "password": credentials["panel.chair"]}
        )
        assert token.status_code == 200, token.text
        me = httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert me.status_code == 200
        assert me.json()["username"] == "panel.chair"
        assert me.json()["role"] == "panel_chair"

        children = _descendants(process.pid)
        assert children, "the embedded Temporal server should run as a child process"
        engine_ports = _listening(children)
        assert engine_ports, "the embedded Temporal server listens"
        hosts = {host for host, _ in engine_ports}
        assert hosts == {"127.0.0.1"}, f"the engine must listen on loopback only: {engine_ports}"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "temporal.db" in output and "loses nothing" in output, "dev says where the cases are kept"
    assert (tmp_path / "var" / "temporal.db").exists()
    assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700
    for name in ("temporal.db", "rapid_review.db", "secrets.json", "demo-credentials.txt", "temporal.log"):
        assert (tmp_path / "var" / name).stat().st_mode & 0o077 == 0, f"var/{name} is readable by others"
    assert "panel.chair" in output, "demo credentials are printed"
    time.sleep(0.5)
    left = [pid for pid in children if _alive(pid)]
    assert left == [], f"processes left behind: {left}"


def test_dev_uses_given_temporal_address_instead_of_starting_one(tmp_path, temporal_env):
    """With TEMPORAL_ADDRESS set, dev starts no Temporal server of its own."""
    port = free_port()
    address = temporal_env.client.service_client.config.target_host
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "RAPID_REVIEW_MODE"}}
    env.update(API_PORT=str(port), RAPID_REVIEW_VAR_DIR=str(tmp_path / "var"), TEMPORAL_ADDRESS=address)
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "dev"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code
            except httpx.TransportError:
                time.sleep(0.5)
        assert status == 200
        names = []
        for pid in _descendants(process.pid):
            try:
                names.append(Path(f"/proc/{pid}/comm").read_text().strip())
            except OSError:
                pass
        assert not any(name.startswith("temporal") for name in names), names
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"Using the Temporal server at {address}" in output
