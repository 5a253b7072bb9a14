"""A throwaway PostgreSQL cluster for the test session (Debian's postgresql, loopback port, temp dir)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from service.platform.runner import free_port


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: run the README's test command (scripts/test), "
            "which installs Debian's postgresql"
        )
    return found[-1]


def _as_postgres(args: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def throwaway_cluster(superuser: str = "app", password: str | None = None, server_options: tuple[str, ...] = ()):
    """Yield a base URL ``postgresql://app@127.0.0.1:PORT`` of a fresh cluster; remove it afterwards.

    With a ``password`` the cluster is set up as the postgres image sets it up: TCP connections need a password
    (scram-sha-256), the local socket is trusted; ``server_options`` are more ``-c name=value`` arguments."""
    base = Path(tempfile.mkdtemp(prefix="rr-pg-"))
    data, sockets = base / "data", base / "sock"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    authentication = ["-A", "trust"]
    if password is not None:
        (base / "pwfile").write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(base / "pwfile", "postgres")
        authentication = ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={base / 'pwfile'}"]
    subprocess.run(
        _as_postgres([_pg_bin("initdb"), "-D", str(data), *authentication, "-U", superuser, "-E", "UTF8"]),
        check=True, stdout=subprocess.DEVNULL,
    )
    log = base / "server.log"
    subprocess.run(
        _as_postgres([
            _pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
            "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 "
                  + " ".join(server_options),
            "start",
        ]),
        check=True, stdout=subprocess.DEVNULL,
    )
    try:
        url = f"postgresql://{superuser}{':' + password if password is not None else ''}@127.0.0.1:{port}"
        _wait_ready(url)
        yield url
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False, stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(url: str) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"{url}/postgres", connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create_database(base_url: str, name: str, template: str | None = None) -> str:
    """A new database, empty or a copy of ``template`` (which must have no open connection)."""
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return f"{base_url}/{name}"


def drop_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
