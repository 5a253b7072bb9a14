"""docker-compose.yml cannot run here (no engine), so it is validated: parse, settings, pins, compose."""

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUR_SERVICES = ("api", "worker", "migrate")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_variable_our_services_set_is_a_setting():
    read_by_settings = {name.upper() for name in Settings.model_fields}
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
    env = dict(os.environ, POSTGRES_PASSWORD="p", RAPID_REVIEW_ENCRYPTION_KEY="k", SECRET_KEY="s",
               RAPID_REVIEW_AUDIT_KEY="a")
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
