"""docker-compose.yml cannot run here (no engine), so it is validated: parse, settings, pins, compose, and the
points where Temporal's reference deployment (temporalio/samples-server, compose/) shows how the stack comes up.
tests/test_compose_stack.py runs what can run here."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from records.db import make_engine
from service.platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUR_SERVICES = ("api", "worker", "migrate")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_variable_our_services_set_is_a_setting():
    read_by_others = {"FORWARDED_ALLOW_IPS",  # uvicorn's
                      "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # boto3's, for the S3 document store
    read_by_settings = {name.upper() for name in Settings.model_fields} | read_by_others
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


LONG_RUNNING = ("postgres", "temporal", "temporal-ui", "api", "worker", "proxy")
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
    from service.platform.runner import temporal_cli

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
    assert "ports" not in services["temporal-ui"], "the UI is reached through the proxy's sign-in only"
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


def _proxy_config() -> str:
    return (ROOT / "deploy" / "haproxy.cfg").read_text()


def _section(config: str, header: str) -> str:
    """A haproxy section's lines, up to the next section."""
    return config.split(f"\n{header}\n", 1)[1].split("\n\n", 1)[0]


def test_every_service_rotates_its_logs_and_has_resource_limits():
    for name, service in _compose()["services"].items():
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", f"{name}: logs are not rotated"
        assert re.fullmatch(r"\d+m", logging["options"]["max-size"]) and int(logging["options"]["max-file"]) >= 2, name
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit", ""))), f"{name}: no memory limit"
        assert 0 < float(service.get("cpus", 0)) <= 2, f"{name}: no CPU limit"


def test_history_shards_are_set_explicitly_and_documented():
    """The shard count is fixed when Temporal's database is first set up: left to the image's default, an image
    upgrade that changed the default would stop the cluster from starting."""
    shards = _compose()["services"]["temporal"]["environment"]["NUM_HISTORY_SHARDS"]
    assert int(shards) >= 4
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert f"NUM_HISTORY_SHARDS: \"{shards}\"" in deploy or f"`NUM_HISTORY_SHARDS` ({shards})" in deploy
    assert "can never change" in deploy


def test_the_api_scales_behind_a_proxy_that_routes_by_liveness():
    services = _compose()["services"]
    api, proxy = services["api"], services["proxy"]
    assert "ports" not in api, "a fixed host port would stop `--scale api=N`"
    assert api["environment"]["API_HOST"] == "0.0.0.0"  # noqa: S104 - inside its container
    config = _proxy_config()
    backend = _section(config, "backend api")
    template = re.search(r"server-template \S+ (\d+) (\S+):(\d+)", backend)
    assert template and template.group(2) == "api" and template.group(3) == api["environment"]["API_PORT"]
    assert int(template.group(1)) >= 2, "room for more than one replica"
    assert "resolvers docker" in backend and "127.0.0.11:53" in config, "replicas found through Docker's DNS"
    assert "option httpchk GET /livez" in backend and "check" in backend, "each replica checked by /livez"
    assert "/livez" in " ".join(api["healthcheck"]["test"]), "the api's own health check is its liveness"
    listens = {line.split(":")[-1] for line in re.findall(r"^\s+bind (\S+)", config, re.M)}
    published = {port.split(":")[1]: port.split(":")[2] for port in proxy["ports"]}
    assert all(port.startswith("127.0.0.1:") for port in proxy["ports"]), "loopback only: TLS goes in front"
    assert set(published.values()) == listens and published["8000"] == "8000"
    # uvicorn believes X-Forwarded-For from the proxy's fixed address (and the host's side, for the TLS proxy).
    address = proxy["networks"]["default"]["ipv4_address"]
    trusted = api["environment"]["FORWARDED_ALLOW_IPS"].split(":-", 1)[1].rstrip("}").split(",")
    assert address in trusted and "option forwardfor" in config
    subnet = _compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    import ipaddress

    network = ipaddress.ip_network(subnet)
    assert all(ipaddress.ip_address(ip) in network for ip in trusted)


def test_the_temporal_ui_is_reached_through_the_proxy_only_after_basic_authentication(tmp_path):
    """haproxy itself reads the files as the proxy service gets them (its compose command, volume and secret), with
    a users file made as docs/deploy.md says; without that file it refuses to start."""
    binary = shutil.which("haproxy")
    assert binary, "haproxy is not installed: run the README's test command (scripts/test)"
    compose = _compose()
    proxy = compose["services"]["proxy"]
    frontend = _section(_proxy_config(), "frontend temporal_ui")
    assert re.search(r"http-request auth .* unless \{ http_auth\((\w+)\) \}", frontend)
    assert "server ui temporal-ui:8080" in _proxy_config()
    mounts = {target: ROOT / source for source, target, *_ in (v.split(":") for v in proxy["volumes"])}
    secret = proxy["secrets"][0]
    users = tmp_path / "temporal-ui-users.cfg"
    mounts[f"/run/secrets/{secret}"] = users
    assert compose["secrets"][secret]["file"] == f"./{users.name}"
    command = proxy["command"]
    assert command[0] == "haproxy"
    files = [mounts[command[i + 1]] for i, word in enumerate(command) if word == "-f"]
    assert files[-1] == users
    without = subprocess.run([binary, "-c", *[a for f in files[:-1] for a in ("-f", str(f))]],
                             capture_output=True, text=True)
    assert without.returncode != 0 and "temporal_ui_users" in without.stderr, "no users file, no UI"
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input="an auditor's passphrase\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    users.write_text(f"userlist temporal_ui_users\n    user auditor.one password {hashed}\n")
    checked = subprocess.run([binary, "-c", *[a for f in files for a in ("-f", str(f))]], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stderr


def test_the_worker_is_healthy_while_its_heartbeat_is_fresh_and_stops_gracefully(tmp_path):
    """The worker's compose health check, run as Docker runs it, against the file the worker touches."""
    from service.platform.worker import ALIVE_FILE, GRACEFUL_SHUTDOWN, HEARTBEAT_SECONDS, HEARTBEAT_STALE_SECONDS

    worker = _compose()["services"]["worker"]
    check = worker["healthcheck"]["test"]
    assert check[0] == "CMD" and f"'{ALIVE_FILE}'" in check[-1]
    assert f"> {HEARTBEAT_STALE_SECONDS:.0f})" in check[-1], "stale when /readyz stops counting the worker"
    assert int(worker["healthcheck"]["interval"].rstrip("s")) >= HEARTBEAT_SECONDS
    env = {"RAPID_REVIEW_VAR_DIR": str(tmp_path), "PATH": os.environ["PATH"]}

    def healthy() -> bool:
        return subprocess.run(["python3" if part == "python" else part for part in check[1:]], env=env,
                              capture_output=True).returncode == 0

    assert not healthy(), "no heartbeat yet"
    (tmp_path / ALIVE_FILE).touch()
    assert healthy()
    stale = time.time() - HEARTBEAT_STALE_SECONDS - 5
    os.utime(tmp_path / ALIVE_FILE, (stale, stale))
    assert not healthy()
    grace = int(worker["stop_grace_period"].rstrip("s"))
    assert grace >= GRACEFUL_SHUTDOWN.total_seconds() + 5, "Docker's SIGKILL must come after the worker's own grace"
