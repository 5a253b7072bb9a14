"""docker-compose.yml's own services, run without Docker: what can be proven here, proven from the file itself.

No Docker engine runs on these machines, so the test reads the stack as `docker-compose config` resolves it (with
a test `.env` made from `.env.example`) and runs each service's own command with exactly the environment the file
gives it over the image's own ENV, from what the Dockerfile builds (tests/test_image.py: its build context, COPY and
pip steps in a fresh venv, which has no `temporal` CLI), in the image's WORKDIR:

- `postgres`: Debian's PostgreSQL, started with the compose `command`'s settings and the image's authentication
  (passwords over TCP), set up by the very init script the file mounts, checked by the file's own health check;
- `temporal`: Temporal's dev server stands in (the same server version, 1.32.0, as the image);
- `temporal-namespace`, `migrate`, `api`, `worker`: their compose commands (the namespace job with the test venv's
  `temporal` CLI standing in for admin-tools'), the api's and the worker's own health checks;
- `temporal-ui`: its codec settings drive a real decode of the case's own history, from its origin.

The only rewrites are the ones a container network makes: a service's host name and container port become
127.0.0.1 and the port its stand-in listens on, the api listens on loopback at a free port, and container paths
become directories here: one per named volume (shared by every service that mounts it, as Docker shares it) and
one per service for anything else (the container's own layer). A host name, path or port the test cannot map is a
failure: the compose file and this test must agree. A case then goes from referral through notification and the
panel, its documents land in the `documents` volume, and worker restarts (stop, and a crash) lose nothing. The
second test backs up both databases and the document store as docs/deploy.md says, drops them, restores them, and
the case still answers and acts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest
import yaml
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from engine.calendar import WorkingDayCalendar, london_date
from service.platform.runner import free_port, start_embedded_temporal, stop_process, temporal_cli
from service.platform.settings import new_encryption_key
from tests.postgres import _pg_bin, throwaway_cluster
from tests.test_image import ImageInstall
from tests.test_newcomer import COUNTS

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
STAND_INS = {"postgres": 5432, "temporal": 7233}  # the compose services that something else stands in for here
APP_SERVICES = ("migrate", "api", "worker")
REQUIRED = re.compile(r"\$\{(\w+):\?")
HOST_PORT = re.compile(r"\b([a-z][a-z0-9_-]*):(\d+)\b")
HOST_VARIABLE = re.compile(r"_(HOST|SEEDS)$")
INIT_DIR = "/docker-entrypoint-initdb.d/"
UI_PORT = "8080"  # where deploy/haproxy.cfg's temporal_ui frontend listens (tests/test_compose.py checks the file)
USERS = {  # username: (role, seat) - made with `rapid-review users add`, as docs/deploy.md says
    "bu": ("business_unit", None), "csc": ("csc_lead", None), "chair": ("panel_chair", None),
    "police": ("executive", "police"), "icb": ("executive", "icb"), "auditor": ("auditor", None),
}


def env_file_from_example(directory: Path) -> Path:
    """`.env.example` with every secret the compose file requires filled in, as docs/deploy.md says to."""
    required = set(REQUIRED.findall((ROOT / "docker-compose.yml").read_text()))
    lines, named = [], set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            named.add(name)
            if name in required:
                value = new_encryption_key() if name == "RAPID_REVIEW_ENCRYPTION_KEY" else secrets.token_urlsafe(36)
        lines.append(f"{name}{sep}{value}")
    assert required <= named, f".env.example does not list {sorted(required - named)}, which compose requires"
    path = directory / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def resolved_compose(env_file: Path) -> dict:
    """The stack exactly as `docker-compose config` resolves it (variables, anchors, paths), from this .env only."""
    result = subprocess.run(["docker-compose", "--env-file", str(env_file), "-f", str(ROOT / "docker-compose.yml"),
                             "config"], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def unescape(value: str) -> str:
    return value.replace("$$", "$")  # compose's escape for a literal $, removed when it runs the command


class Stack:
    """The compose services as processes on this machine, each with its compose environment mapped to loopback."""

    def __init__(self, compose: dict, image: ImageInstall, directory: Path) -> None:
        self.services, self.image, self.directory = compose["services"], image, directory
        self.ports: dict[str, int] = {}
        self.api_port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.temporal: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.api_port}"

    # ------------------------------------------------------------ the compose file, mapped

    def volume_dir(self, service: str, target: str) -> Path | None:
        """Where a container path of this service lives here, if a volume is mounted over it."""
        for mount in self.services[service].get("volumes", []):
            source, container_path = mount.split(":")[:2]
            if target == container_path or target.startswith(container_path.rstrip("/") + "/"):
                rest = target[len(container_path):].lstrip("/")
                base = Path(source) if source.startswith("/") else self.directory / "volumes" / source
                return base / rest if rest else base
        return None

    def host_path(self, service: str, container_path: str) -> Path:
        return self.volume_dir(service, container_path) or (
            self.directory / "layers" / service / container_path.lstrip("/"))

    def on_loopback(self, service: str, value: str) -> str:
        def stand_in(match: re.Match) -> str:
            host, port = match.group(1), int(match.group(2))
            if host not in self.services:
                return match.group(0)
            assert STAND_INS.get(host) == port, f"{service} reaches {host}:{port}, which nothing here stands in for"
            return f"127.0.0.1:{self.ports[host]}"

        value = HOST_PORT.sub(stand_in, unescape(value))
        return str(self.host_path(service, value)) if value.startswith("/") else value

    def env(self, service: str) -> dict[str, str]:
        """The service's compose environment over its image's ENV, mapped; PATH finds the image's programs (for our
        services, the image install's; for the others, the test venv's `temporal` CLI and Debian's PostgreSQL)."""
        image_env = self.image.env if service in APP_SERVICES else {}
        compose_env = self.services[service].get("environment") or {}
        env = {name: self.on_loopback(service, str(value)) for name, value in {**image_env, **compose_env}.items()}
        for name, value in env.items():  # a host on its own (its port is a variable of its own, left as it is)
            if HOST_VARIABLE.search(name) and value in STAND_INS:
                env[name] = "127.0.0.1"
        if "API_PORT" in env:
            assert "ports" not in self.services[service], f"{service} scales: the proxy publishes its port"
            assert env["API_HOST"] == "0.0.0.0", "in a container the api must listen beyond its loopback"  # noqa: S104
            env.update(API_PORT=str(self.api_port), API_HOST="127.0.0.1")
        programs = self.image.venv / "bin" if service in APP_SERVICES else Path(temporal_cli()).parent
        env["PATH"] = f"{programs}:{Path(_pg_bin('psql')).parent}:/usr/bin:/bin"
        env["HOME"] = str(self.directory / "layers" / service / "home" / "app")
        Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
        return env

    def command(self, service: str) -> list[str]:
        definition = self.services[service]
        entrypoint = definition.get("entrypoint") or []
        return [unescape(part) for part in [*entrypoint, *definition["command"]]]

    # ------------------------------------------------------------ running it

    def cwd(self, service: str) -> Path:
        """Our services run in the image's WORKDIR (where the COPY left the source: the install must not need it)."""
        return self.image.host_path(self.image.workdir) if service in APP_SERVICES else self.directory

    def run(self, service: str, command: list[str] | None = None, **extra_env) -> subprocess.CompletedProcess:
        """A job (migrate, the namespace job, a `rapid-review users` command in the api's container)."""
        result = subprocess.run(command or self.command(service), env={**self.env(service), **extra_env},
                                capture_output=True, text=True, timeout=180, cwd=self.cwd(service))
        assert result.returncode == 0, f"{service}: {result.stdout}\n{result.stderr}"
        return result

    def start(self, service: str) -> subprocess.Popen:
        log = (self.directory / f"{service}.log").open("ab")
        process = subprocess.Popen(self.command(service), env=self.env(service), stdout=log,
                                   stderr=subprocess.STDOUT, cwd=self.cwd(service))
        log.close()
        self.processes[service] = process
        return process

    def stop(self, service: str, sig: int = signal.SIGTERM) -> int:
        """`docker-compose stop` (SIGTERM, then the grace period) or a crash (SIGKILL)."""
        process = self.processes.pop(service)
        process.send_signal(sig)
        grace = self.services[service].get("stop_grace_period", "10s")
        return process.wait(int(grace.rstrip("s")) + 5)

    def start_temporal(self) -> None:
        self.temporal, _ = start_embedded_temporal(self.directory / "temporal", self.ports["temporal"])

    def wait_ready(self, within: float = 90) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for service, process in self.processes.items():
                assert process.poll() is None, f"{service} exited:\n{self.log(service)}"
            try:
                if httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"not ready in {within} s:\n{self.log('api')}\n{self.log('worker')}")

    def log(self, service: str) -> str:
        path = self.directory / f"{service}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def shut_down(self) -> None:
        for process in self.processes.values():
            stop_process(process)
        stop_process(self.temporal)


@pytest.fixture(scope="module")
def stack(image_install, tmp_path_factory):
    """PostgreSQL and Temporal stand-ins, the namespace job, migrate, then api and worker, in compose's order."""
    directory = tmp_path_factory.mktemp("stack")
    compose = resolved_compose(env_file_from_example(directory))
    services = compose["services"]
    for name in (*APP_SERVICES, "temporal-namespace"):
        assert services[name].get("command"), f"{name} has no command to run"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["temporal-namespace"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "temporal-namespace": {"condition": "service_completed_successfully"}}, name

    stack = Stack(compose, image_install, directory)
    postgres = services["postgres"]
    superuser = postgres["environment"].get("POSTGRES_USER", "postgres")
    server_options = tuple(postgres["command"][1:])
    assert postgres["command"][0] == "postgres" and "-c" in server_options
    with throwaway_cluster(superuser, postgres["environment"]["POSTGRES_PASSWORD"], server_options) as url:
        stack.ports["postgres"] = int(url.rsplit(":", 1)[1])
        stack.superuser_url = url
        init_scripts = [m.split(":")[0] for m in postgres["volumes"] if m.split(":")[1].startswith(INIT_DIR)]
        assert init_scripts, "compose mounts no init script into the postgres image"
        for script in init_scripts:
            assert os.access(script, os.X_OK), f"{script}: the image sources a non-executable script in its shell"
            # As the image runs it: its environment, PGPASSWORD set to the superuser's, psql on the PATH.
            stack.run("postgres", [script], PGHOST="127.0.0.1", PGPORT=str(stack.ports["postgres"]),
                      PGPASSWORD=postgres["environment"]["POSTGRES_PASSWORD"], POSTGRES_USER=superuser)
        check = postgres["healthcheck"]["test"]
        assert check[0] == "CMD-SHELL" and " -h " in check[1], "pg_isready must test TCP, not the socket"
        healthy = subprocess.run(["sh", "-c", check[1].replace("-p 5432", f"-p {stack.ports['postgres']}")],
                                 env=stack.env("postgres"), capture_output=True, text=True)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr

        stack.ports["temporal"] = free_port()
        stack.start_temporal()
        try:
            stack.run("temporal-namespace")
            stack.run("migrate")
            stack.start("worker")
            stack.start("api")
            stack.wait_ready()
            for username, (role, seat) in USERS.items():
                stack.run("api", ["rapid-review", "users", "add", username, "--full-name", f"Test {username}",
                                  "--email", f"{username}@example.org", "--role", role,
                                  *(["--seat", seat] if seat else [])],
                          RAPID_REVIEW_NEW_PASSWORD=f"pw-{username}-long-enough")
            stack.secrets = {username: enrolled_authenticator(stack, username) for username in USERS}
            stack.tokens, stack.last_step = {}, {}
            yield stack
        finally:
            stack.shut_down()


def enrolled_authenticator(stack: Stack, username: str) -> str:
    """Production requires a second factor for every role that reads cases: each account gets an authenticator,
    set up directly in the database (the enrolment pages are tested in test_mfa.py, and the production cookies
    are Secure, which this plain-HTTP client would not send back)."""
    from sqlmodel import Session, select

    from records.db import engine_for
    from records.models import User, UserMfa
    from service.accounts.mfa import _seal

    env, secret = stack.env("api"), pyotp.random_base32()
    engine = engine_for(env["DATABASE_URL"])
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.username == username)).one()
            session.add(UserMfa(user_id=user.id, secret_encrypted=_seal(env["SECRET_KEY"], user.id, secret),
                                confirmed_at=datetime.now(UTC)))
            session.commit()
    finally:
        engine.dispose()
    return secret


def next_code(stack: Stack, username: str) -> str:
    """A code from the user's authenticator the service has not seen yet (a code is good once, and the service
    takes the 30-second step either side of now): the next step after the last this test sent, waiting if need be."""
    while True:
        now = time.time()
        for at in (now - 30, now, now + 30):
            if at == now - 30 and now % 30 > 25:
                continue  # the last step's code leaves the service's window in under 5 s: it could expire in flight
            if at // 30 > stack.last_step.get(username, 0):
                stack.last_step[username] = at // 30
                return pyotp.TOTP(stack.secrets[username]).at(at)
        time.sleep(30 - now % 30 + 0.5)


def sign_in(stack: Stack, username: str) -> dict:
    """A bearer token for the user, with the password and a code from the authenticator (one sign-in per user:
    a code is good once)."""
    if username not in stack.tokens:
        answer = httpx.post(f"{stack.base}/api/auth/token", data={
            "username": username, "password": f"pw-{username}-long-enough",
            "otp": next_code(stack, username)})
        assert answer.status_code == 200, answer.text
        stack.tokens[username] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return stack.tokens[username]


def act(stack: Stack, who: dict, reference: str, action: str, **fields) -> dict:
    answer = httpx.post(f"{stack.base}/api/cases/{reference}/actions/{action}", json=fields, headers=who, timeout=60)
    assert answer.status_code == 200, f"{action}: {answer.status_code} {answer.text}"
    return answer.json()


def stage(stack: Stack, who: dict, reference: str) -> str:
    answer = httpx.get(f"{stack.base}/api/cases/{reference}", headers=who, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["stage"]


def counts(stack: Stack) -> dict[str, int]:
    """What happened so far, once every step in flight has written its rows (two equal readings 1 s apart)."""
    last = None
    for _ in range(30):
        with psycopg.connect(f"{stack.superuser_url}/rapid_review") as db:
            now = {name: db.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}
        if now == last:
            return now
        last = now
        time.sleep(1)
    return last


def documents(stack: Stack, who: dict, reference: str) -> list[dict]:
    answer = httpx.get(f"{stack.base}/api/cases/{reference}/documents", headers=who, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_documents_in_the_volume(stack: Stack, who: dict, reference: str) -> None:
    """Every document of the case is a file in the `documents` volume, and the api serves it from there."""
    volume = stack.directory / "volumes" / "documents"
    api_dir = stack.env("api")["RAPID_REVIEW_DOCUMENT_DIR"]
    assert api_dir == stack.env("worker")["RAPID_REVIEW_DOCUMENT_DIR"] == str(volume), \
        "the worker writes documents where the api reads them: one shared volume"
    stored = {p.relative_to(volume).as_posix() for p in volume.rglob("*") if p.is_file()}
    listed = documents(stack, who, reference)
    assert listed and all(content_key_of(d["pdf_sha256"]) in stored and content_key_of(d["html_sha256"]) in stored
                          for d in listed), f"each document is an object in the volume (by its hash): {stored}"
    layers = [p for p in (stack.directory / "layers").rglob("*") if p.is_file() and len(p.name) == 64]
    assert not layers, "a document was written outside the volume"
    for document in listed:
        pdf = httpx.get(f"{stack.base}/api/documents/{document['id']}", params={"format": "pdf"}, headers=who,
                        timeout=60)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), (pdf.status_code, pdf.text[:200])


def content_key_of(sha256: str) -> str:
    """Where the store keeps the bytes with this hash (records/object_store.py's content key)."""
    return f"{sha256[:2]}/{sha256}"


def worker_healthy(stack: Stack) -> bool:
    """The worker's compose health check, run as Docker runs it in the worker's container."""
    check = stack.services["worker"]["healthcheck"]["test"]
    assert check[0] == "CMD"
    return subprocess.run(check[1:], env=stack.env("worker"), capture_output=True).returncode == 0


def today() -> str:
    return str(london_date(datetime.now(UTC)))


def test_the_init_script_gives_temporal_its_own_role_and_databases_as_its_schema_job_needs_them(stack):
    """temporal-schema cannot run here (no admin-tools image): what it needs from PostgreSQL is checked with its
    own compose credentials instead: to connect over TCP with a password, own both databases, create tables, and
    find btree_gin; the service's role is kept out of them."""
    schema = stack.env("temporal-schema")
    assert schema["SQL_HOST"] == "127.0.0.1" and int(schema["SQL_PORT"]) == STAND_INS["postgres"]
    temporal = f"postgresql://{schema['SQL_USER']}:{schema['SQL_PASSWORD']}@127.0.0.1:{stack.ports['postgres']}"
    assert stack.services["temporal"]["environment"]["POSTGRES_PWD"] == schema["SQL_PASSWORD"]
    for database in ("temporal", "temporal_visibility"):
        with psycopg.connect(f"{temporal}/{database}") as db:
            db.execute("CREATE TABLE schema_probe (id int)")
            db.execute("DROP TABLE schema_probe")
            extensions = {row[0] for row in db.execute("SELECT extname FROM pg_extension")}
            assert database == "temporal" or "btree_gin" in extensions
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"postgresql://{schema['SQL_USER']}:wrong@127.0.0.1:{stack.ports['postgres']}/temporal")
    app = stack.env("api")["DATABASE_URL"].rsplit("/", 1)[0]
    for database in ("temporal", "temporal_visibility"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(f"{app}/{database}").close()
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(f"{temporal}/rapid_review").close()


def test_the_stack_carries_a_case_from_referral_through_the_panel_and_worker_restarts_lose_nothing(stack):
    bu, csc, chair = sign_in(stack, "bu"), sign_in(stack, "csc"), sign_in(stack, "chair")
    police, icb = sign_in(stack, "police"), sign_in(stack, "icb")
    api_health = stack.services["api"]["healthcheck"]["test"]
    healthy = subprocess.run([part.replace(":8000/", f":{stack.api_port}/") for part in api_health[1:]],
                             env=stack.env("api"), capture_output=True, text=True)
    assert healthy.returncode == 0, healthy.stderr
    assert worker_healthy(stack), "the worker's own health check fails while it polls"
    ready = httpx.get(f"{stack.base}/readyz", timeout=10).json()
    assert ready["checks"]["worker"]["ready"] and ready["checks"]["temporal"]["ready"], ready

    retention = subprocess.run(["temporal", "operator", "namespace", "describe", "-n", "default", "-o", "json",
                                "--address", stack.env("temporal-namespace")["TEMPORAL_ADDRESS"]],
                               env=stack.env("temporal-namespace"), capture_output=True, text=True, check=True)
    days = stack.services["temporal-namespace"]["environment"]["RETENTION"]
    assert json.loads(retention.stdout)["config"]["workflowExecutionRetentionTtl"] == \
        f"{int(days.rstrip('d')) * 86400}s", "the namespace job sets the retention compose gives it"

    answer = httpx.post(f"{stack.base}/api/cases", headers=bu, timeout=60, json={
        "pseudonym": "Child A", "age_band": "1-4", "summary": "Injury at home; neglect suspected.",
        "incident_date": today(), "awareness_date": today(), "referring_agency": "police"})
    assert answer.status_code == 201, answer.text
    reference = answer.json()["reference"]
    act(stack, bu, reference, "accept_referral")
    act(stack, csc, reference, "propose_sin_decision", decision="notify", rationale="Serious harm.")
    act(stack, police, reference, "respond_to_sin_proposal", version=1, view="agree", comments="Investigating.")
    act(stack, icb, reference, "respond_to_sin_proposal", version=1, view="agree", comments="Consistent with abuse.")
    act(stack, csc, reference, "record_notification", notified_on=today(), notification_reference="OF-1")
    assert stage(stack, bu, reference) == "panel_preparation"
    before = counts(stack)
    assert before["documents"] > 0

    # `docker-compose restart worker`: SIGTERM, a clean exit within the grace period compose gives it.
    assert stack.stop("worker") == 0, stack.log("worker")
    assert not worker_healthy(stack), "a stopped worker still looks healthy"
    assert httpx.get(f"{stack.base}/livez", timeout=10).status_code == 200, "the pages serve with no worker"
    stack.start("worker")
    stack.wait_ready()
    # A crash (the OOM killer, a lost host): `restart: unless-stopped` starts it again.
    assert stack.services["worker"]["restart"] == "unless-stopped"
    stack.stop("worker", signal.SIGKILL)
    stack.start("worker")
    stack.wait_ready()
    assert stage(stack, bu, reference) == "panel_preparation", "a worker restart moved the case"
    assert counts(stack) == before, "a worker restart duplicated or lost rows"

    panel_date = WorkingDayCalendar().add_working_days(london_date(datetime.now(UTC)), 1)
    act(stack, bu, reference, "convene_panel", panel_date=str(panel_date), invited_agencies=["education"],
        research_questions=["What did the school know?"])
    act(stack, chair, reference, "record_panel_outcome", held_on=today(), attendees=["Chair", "Education"],
        immediate_actions=["Safety plan for siblings"], themes=["infant safety (incl. unsafe sleeping)"],
        learning="Professional curiosity.", recommendation="local_cspr", rationale="Multi-agency concerns.")
    assert stage(stack, bu, reference) == "decision_sheet"
    assert counts(stack)["documents"] > before["documents"]
    assert_documents_in_the_volume(stack, bu, reference)
    decode_in_the_temporal_ui(stack, reference)


def set_cookie(response: httpx.Response, name: str) -> str:
    """``name=value`` of a cookie the response sets (Secure, HttpOnly and the rest left out)."""
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert found, f"no {name} cookie set"
    assert "secure" in found[0].lower(), "production cookies are Secure"
    return found[0].split(";")[0]


def decode_in_the_temporal_ui(stack: Stack, reference: str) -> None:
    """What an auditor's browser does in the Temporal UI: the case's own encrypted history, decoded by the codec
    endpoint the UI is configured with, from the UI's origin, with the auditor's session cookie."""
    ui = stack.services["temporal-ui"]["environment"]
    api = stack.env("api")
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true" and ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == api["RAPID_REVIEW_PUBLIC_URL"] + "/codec"
    origin = api["RAPID_REVIEW_TEMPORAL_UI_ORIGIN"]
    assert origin == ui["TEMPORAL_CORS_ORIGINS"]
    published = [port.split(":")[1] for port in stack.services["proxy"]["ports"]
                 if port.split(":")[2].split("/")[0] == UI_PORT]
    assert [origin.rsplit(":", 1)[1]] == published, f"the UI's origin {origin} is not where the proxy publishes it"

    async def first_payloads() -> Payloads:
        client = await Client.connect(f"127.0.0.1:{stack.ports['temporal']}")  # no codec: what the UI receives
        history = await client.get_workflow_handle(reference).fetch_history()
        return history.events[0].workflow_execution_started_event_attributes.input

    raw = asyncio.run(first_payloads())
    assert b"Child A" not in raw.SerializeToString(), "the engine holds case data in clear text"
    # Production cookies are Secure: browsers send them to localhost, httpx only over https, so they go by hand.
    pre_session = httpx.get(f"{stack.base}/api/auth/session")
    signed_in = httpx.post(f"{stack.base}/api/auth/session", headers={
        "X-CSRF-Token": pre_session.json()["csrf_token"], "Cookie": set_cookie(pre_session, "rr_sign_in")},
        data={"username": "auditor", "password": "pw-auditor-long-enough",
              "otp": next_code(stack, "auditor")})
    assert signed_in.status_code == 200, signed_in.text
    cookie = set_cookie(signed_in, "rr_session")
    headers = {"Origin": origin, "Content-Type": "application/json", "X-Namespace": "default", "Cookie": cookie}
    preflight = httpx.options(f"{stack.base}/codec/decode", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace"})
    assert preflight.headers.get("access-control-allow-origin") == origin, preflight.status_code
    decoded = httpx.post(f"{stack.base}/codec/decode", content=json_format.MessageToJson(raw), headers=headers,
                         timeout=30)
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == origin
    assert "Child A" in str([p.data for p in json_format.Parse(decoded.text, Payloads()).payloads])


def test_backup_and_restore_of_both_databases_and_the_documents_keeps_the_case(stack):
    """docs/deploy.md's backup (stopped services, pg_dump of each database, a copy of the documents volume) and
    restore (pg_restore --create, the volume copied back), after losing all three."""
    bu, auditor = sign_in(stack, "bu"), sign_in(stack, "auditor")
    answer = httpx.post(f"{stack.base}/api/cases", headers=bu, timeout=60, json={
        "pseudonym": "Child B", "age_band": "5-9", "summary": "Bruising seen at school.",
        "incident_date": today(), "awareness_date": today(), "referring_agency": "education"})
    assert answer.status_code == 201, answer.text
    reference = answer.json()["reference"]
    act(stack, bu, reference, "accept_referral")
    counts(stack)
    kept = {"stage": stage(stack, bu, reference), "documents": documents(stack, bu, reference)}
    assert kept["documents"]

    backup = stack.directory / "backup"
    backup.mkdir()
    volume = stack.directory / "volumes" / "documents"
    superuser = {"PGHOST": "127.0.0.1", "PGPORT": str(stack.ports["postgres"]),
                 "PGUSER": stack.services["postgres"]["environment"].get("POSTGRES_USER", "postgres"),
                 "PGPASSWORD": stack.services["postgres"]["environment"]["POSTGRES_PASSWORD"],
                 "PATH": os.environ["PATH"]}
    databases = ("rapid_review", "temporal", "temporal_visibility")

    def tool(*args: str) -> None:
        subprocess.run([_pg_bin(args[0]), *args[1:]], env=superuser, check=True, capture_output=True)

    # Backup: the service and the engine stopped, so the databases and the documents are of one moment.
    for service in ("api", "worker"):
        stack.stop(service)
    stop_process(stack.temporal)
    for database in databases:
        tool("pg_dump", "--format=custom", f"--file={backup / database}.dump", database)
    shutil.copytree(volume, backup / "documents")
    # Here Temporal's dev server stands in for the temporal service: its SQLite file is what pg_dump of temporal
    # and temporal_visibility is to the real one (whose schemas this machine cannot make).
    shutil.copy2(stack.directory / "temporal" / "temporal.db", backup / "temporal.db")

    # Everything lost.
    with psycopg.connect(f"{stack.superuser_url}/postgres", autocommit=True) as db:
        for database in databases:
            db.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    shutil.rmtree(volume)
    (stack.directory / "temporal" / "temporal.db").unlink()

    # Restore: each database recreated with its owner and its connect rights, the documents copied back.
    for database in databases:
        tool("pg_restore", "--create", "--exit-on-error", "--dbname=postgres", f"{backup / database}.dump")
    shutil.copytree(backup / "documents", volume)
    shutil.copy2(backup / "temporal.db", stack.directory / "temporal" / "temporal.db")
    with psycopg.connect(f"{stack.superuser_url}/postgres") as db:
        owners = dict(db.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database").fetchall())
    assert {name: owners.get(name) for name in databases} == {
        "rapid_review": "rapid_review", "temporal": "temporal", "temporal_visibility": "temporal"}
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        app_url = stack.env("api")["DATABASE_URL"].rsplit("/", 1)[0]
        psycopg.connect(f"{app_url}/temporal").close()

    stack.start_temporal()
    stack.start("worker")
    stack.start("api")
    stack.wait_ready()
    assert stage(stack, bu, reference) == kept["stage"]
    assert [d["id"] for d in documents(stack, bu, reference)] == [d["id"] for d in kept["documents"]]
    for document in kept["documents"]:
        pdf = httpx.get(f"{stack.base}/api/documents/{document['id']}", params={"format": "pdf"}, headers=bu,
                        timeout=60)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), "a restored document failed its check"
    verified = httpx.get(f"{stack.base}/api/audit/verify", params={"full": "true"}, headers=auditor, timeout=60)
    assert verified.status_code == 200 and verified.json()["intact"] is True, verified.text
    # And it still acts: the case goes on from where the backup left it.
    act(stack, sign_in(stack, "csc"), reference, "propose_sin_decision", decision="notify", rationale="Harm.")


def test_the_proxy_keeps_serving_the_pages_without_a_worker_and_asks_for_a_sign_in_before_the_ui(stack):
    """The proxy service, run here: Debian's haproxy with the compose command's two files (deploy/haproxy.cfg and
    a users file made as docs/deploy.md says). The rewrites are the container network's, as for the services: its
    listeners on free loopback ports, and the one replica and the UI at the addresses they have here (each rewrite
    must apply exactly once, so a changed file fails here rather than being tested as something else)."""
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    ports = {"8000": free_port(), "8080": free_port()}
    for old, new in [("bind :8000", f"bind 127.0.0.1:{ports['8000']}"),
                     ("bind :8080", f"bind 127.0.0.1:{ports['8080']}"),
                     ("server-template api 8 api:8000", f"server api1 127.0.0.1:{stack.api_port}"),
                     ("server ui temporal-ui:8080", f"server ui 127.0.0.1:{free_port()}"),  # no UI runs here
                     (" resolvers docker init-addr none", ""), (" resolvers docker init-addr none", "")]:
        assert old in config, f"deploy/haproxy.cfg no longer has {old!r}"
        config = config.replace(old, new, 1)
    (stack.directory / "haproxy.cfg").write_text(config)
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input="an auditor's passphrase\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    users = stack.directory / "temporal-ui-users.cfg"
    users.write_text(f"userlist temporal_ui_users\n    user auditor.one password {hashed}\n")
    log = (stack.directory / "proxy.log").open("ab")
    proxy = subprocess.Popen(["haproxy", "-db", "-f", str(stack.directory / "haproxy.cfg"), "-f", str(users)],
                             stdout=log, stderr=subprocess.STDOUT)
    log.close()
    service, ui = f"http://127.0.0.1:{ports['8000']}", f"http://127.0.0.1:{ports['8080']}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{service}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proxy.poll() is None, stack.log("proxy")
            time.sleep(0.2)

        refused = httpx.get(f"{ui}/", timeout=5)
        assert refused.status_code == 401 and "Temporal UI" in refused.headers["www-authenticate"]
        assert httpx.get(f"{ui}/", auth=("auditor.one", "wrong"), timeout=5).status_code == 401
        passed = httpx.get(f"{ui}/", auth=("auditor.one", "an auditor's passphrase"), timeout=5)
        assert passed.status_code == 503, "past the sign-in, the proxy goes to the UI (which does not run here)"

        # The workers away: the service cannot act, but its replica stays in the pool through the proxy's checks.
        stack.stop("worker")
        inter, fall = (int(re.search(rf"{word} (\d+)", config).group(1)) for word in ("inter", "fall"))
        time.sleep(inter * fall + 2)  # long enough for the checks to take a replica out
        assert httpx.get(f"{service}/readyz", timeout=5).status_code == 503
        assert httpx.get(f"{service}/signin", timeout=5).status_code == 200, "the proxy took the pages down"
        assert "api/api1 is DOWN" not in stack.log("proxy"), "the proxy took the replica out"
    finally:
        stop_process(proxy)
        if "worker" not in stack.processes:
            stack.start("worker")
