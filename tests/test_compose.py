"""docker-compose.yml cannot run here (no engine), so it is validated: parse, settings, pins, compose, and the
points where Temporal's reference deployment (temporalio/samples-server, compose/) shows how the stack comes up.
tests/test_compose_stack.py runs what can run here."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from records.db import make_engine
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUR_SERVICES = ("api", "worker", "migrate")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_variable_our_services_set_is_a_setting():
    read_by_settings = {name.upper() for name in Settings.model_fields} | {"FORWARDED_ALLOW_IPS"}  # uvicorn's
    services = _compose()["services"]
    for name in OUR_SERVICES:
        variables = set(services[name]["environment"])
        unknown = variables - read_by_settings
        assert not unknown, f"{name} sets variables the settings never read: {sorted(unknown)}"
        assert {"DATABASE_URL", "TEMPORAL_ADDRESS", "RAPID_REVIEW_ENCRYPTION_KEY", "SECRET_KEY",
                "RAPID_REVIEW_AUDIT_KEY"} <= variables
        assert services[name]["environment"]["RAPID_REVIEW_MODE"] == "production"


def test_images_are_pinned_and_stack_is_complete():
    services = _compose()["services"]
    for name, service in services.items():
        image = service.get("image", "")
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: image {image!r} is not pinned"
        assert "auto-setup" not in image, "the deprecated auto-setup image must not be used"
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert "temporal-sql-tool" in "".join(services["temporal-schema"]["command"])
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert services["postgres"]["healthcheck"]["test"]
    assert (ROOT / "Dockerfile").exists()


def test_docker_compose_accepts_the_file():
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed: run the README's test command (scripts/test)"
    env = dict(os.environ, POSTGRES_PASSWORD="p", RAPID_REVIEW_DB_PASSWORD="r", TEMPORAL_DB_PASSWORD="t",
               RAPID_REVIEW_ENCRYPTION_KEY="k", SECRET_KEY="s", RAPID_REVIEW_AUDIT_KEY="a")
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True, text=True, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in {"POSTGRES_PASSWORD", "SECRET_KEY"}},
    )
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr, "secrets must be required"


LONG_RUNNING = ("postgres", "temporal", "temporal-ui", "api", "worker")
JOBS = ("temporal-schema", "temporal-namespace", "migrate")


def test_temporal_comes_up_as_the_reference_brings_it_up():
    services = _compose()["services"]
    temporal = services["temporal"]
    # The entrypoint fills in the container's IP; a host name there fails ringpop ("broadcastAddress param
    # malformed") and the server exits.
    assert "TEMPORAL_BROADCAST_ADDRESS" not in temporal["environment"]
    assert temporal["environment"]["BIND_ON_IP"] == "0.0.0.0"  # noqa: S104 - inside its container
    # tctl left the server image after 1.28; the reference checks the frontend's port.
    assert temporal["healthcheck"]["test"] == ["CMD", "nc", "-z", "localhost", "7233"]
    # Since 1.30 the image has no dynamic config file of its own and the server refuses to start without one.
    mounted = {target.split(":")[0]: source for source, target in
               (volume.split(":", 1) for volume in temporal["volumes"])}
    source = mounted[temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]]
    assert yaml.safe_load((ROOT / source).read_text()), f"{source} is empty"
    for job in ("temporal-schema", "temporal-namespace"):
        assert services[job]["image"].startswith("temporalio/admin-tools:")
    server_version = temporal["image"].rpartition(":")[2]
    assert services["temporal-schema"]["image"].endswith(f":{server_version}"), "admin-tools matches the server"


def test_the_stand_in_dev_server_is_the_server_version_the_stack_runs():
    """tests/test_compose_stack.py runs the Temporal dev server in place of the temporal service: the same server."""
    from service.runner import temporal_cli

    version = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True, check=True).stdout
    image = _compose()["services"]["temporal"]["image"].rpartition(":")[2]
    assert f"Server {image}" in version, f"the dev server is {version.strip()!r}; the stack runs {image}"


def test_every_service_restarts_and_every_wait_is_bounded():
    services = _compose()["services"]
    for name in LONG_RUNNING:
        assert services[name].get("restart") == "unless-stopped", name
    for name in JOBS:
        assert re.fullmatch(r"on-failure:\d+", services[name].get("restart", "")), f"{name}: retried, boundedly"
    assert " -h " in services["postgres"]["healthcheck"]["test"][1], "pg_isready over TCP, not the Unix socket"
    schema = "".join(services["temporal-schema"]["command"])
    assert "nc -z -w" in schema and "create" not in schema.split(), "bounded wait; databases come from the init script"
    namespace = "".join(services["temporal-namespace"]["command"])
    assert "until" in namespace and "-ge" in namespace and "exit 1" in namespace, "the namespace job gives up"
    assert services["temporal-namespace"]["depends_on"]["temporal"]["condition"] == "service_healthy"


def test_the_temporal_ui_is_read_only_and_decodes_through_the_service_with_the_auditors_cookie():
    services = _compose()["services"]
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "${RAPID_REVIEW_PUBLIC_URL:-http://localhost:8000}/codec"
    assert services["api"]["environment"]["RAPID_REVIEW_TEMPORAL_UI_ORIGIN"] == ui["TEMPORAL_CORS_ORIGINS"]
    assert all(port.startswith("127.0.0.1:") for port in services["temporal-ui"]["ports"]), "loopback only"
    assert "ports" not in services["temporal"], "the engine's frontend is not published beyond the stack"


def test_each_system_has_its_own_database_role_and_the_connection_budget_holds():
    """The budget docs/deploy.md writes down, from the numbers the stack is configured with."""
    services = _compose()["services"]
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    limit = {role: int(re.search(rf"{role.upper()}_DB_CONNECTIONS:-(\d+)", init).group(1))
             for role in ("rapid_review", "temporal")}
    assert "rapid_review:" in services["api"]["environment"]["DATABASE_URL"]
    assert services["temporal"]["environment"]["POSTGRES_USER"] == "temporal"
    assert services["temporal-schema"]["environment"]["SQL_USER"] == "temporal"
    assert "POSTGRES_USER" not in services["postgres"]["environment"], "the superuser keeps its own name"

    temporal = services["temporal"]["environment"]
    per_service = int(temporal["SQL_MAX_CONNS"]) + int(temporal["SQL_VIS_MAX_CONNS"])
    temporal_connections = 4 * per_service  # frontend, history, matching, worker: a pool each in one process
    engine = make_engine("postgresql+psycopg://budget@127.0.0.1:1/budget")  # nothing connects
    per_process = engine.pool.size() + engine.pool._max_overflow
    app_connections = 2 * per_process + 1  # api, worker, and the migrate job or an operator's command
    assert temporal_connections <= limit["temporal"] and app_connections <= limit["rapid_review"]
    command = services["postgres"]["command"]
    settings = dict(part.split("=") for part in command if "=" in part)
    reserved = int(settings["superuser_reserved_connections"])
    assert limit["temporal"] + limit["rapid_review"] + reserved <= int(settings["max_connections"])


def test_the_image_runs_as_a_user_who_owns_every_directory_the_service_writes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)[-1]
    assert user not in ("root", "0")
    created = set()
    for line in re.findall(r"install -d -o (\S+) -g \S+ -m 0700 ([^\n]+)", dockerfile):
        assert line[0] == user
        created |= set(line[1].split())
    services = _compose()["services"]
    for name in OUR_SERVICES:
        mounts = {volume.split(":")[1] for volume in services[name].get("volumes", [])}
        for variable, path in services[name]["environment"].items():
            if variable.endswith("_DIR"):
                assert path in created, f"{name}: {variable}={path} is not created and owned by {user} in the image"
        assert mounts <= created, f"{name} mounts a volume over a directory the image does not own: {mounts}"
