"""Settings: production refuses to start without its secrets; dev generates them once and keeps them."""

import json

import pytest

from service.platform.settings import SettingsError, load_settings, new_encryption_key


def test_production_names_every_missing_secret(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "RAPID_REVIEW_ENCRYPTION_KEY", "SECRET_KEY",
                 "RAPID_REVIEW_AUDIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAPID_REVIEW_MODE", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    with pytest.raises(SettingsError) as error:
        load_settings(rapid_review_var_dir=tmp_path)
    message = str(error.value)
    assert "TEMPORAL_ADDRESS" in message
    assert "RAPID_REVIEW_ENCRYPTION_KEY" in message
    assert "SECRET_KEY" in message
    assert "RAPID_REVIEW_AUDIT_KEY" in message
    assert "DATABASE_URL" not in message
    assert not (tmp_path / "secrets.json").exists(), "production must never generate keys"


def test_production_starts_with_all_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("RAPID_REVIEW_MODE", "production")
    monkeypatch.setenv("DATABASE_URL", "postgres://app@db/app")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("RAPID_REVIEW_ENCRYPTION_KEY", new_encryption_key())
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("RAPID_REVIEW_AUDIT_KEY", "a" * 40)
    settings = load_settings(rapid_review_var_dir=tmp_path)
    assert settings.audit_key_bytes == b"a" * 40
    assert settings.audit_anchor_dir == tmp_path / "audit-anchors"
    assert settings.sqlalchemy_url == "postgresql+psycopg://app@db/app"
    assert settings.temporal_address == "temporal:7233"


def test_production_rejects_short_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("RAPID_REVIEW_MODE", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("RAPID_REVIEW_ENCRYPTION_KEY", new_encryption_key())
    monkeypatch.setenv("SECRET_KEY", "short")
    monkeypatch.setenv("RAPID_REVIEW_AUDIT_KEY", "a" * 40)
    with pytest.raises(SettingsError, match="SECRET_KEY must be at least 32"):
        load_settings(rapid_review_var_dir=tmp_path)


def test_production_rejects_short_audit_key(monkeypatch, tmp_path):
    monkeypatch.setenv("RAPID_REVIEW_MODE", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("RAPID_REVIEW_ENCRYPTION_KEY", new_encryption_key())
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("RAPID_REVIEW_AUDIT_KEY", "short")
    with pytest.raises(SettingsError, match="RAPID_REVIEW_AUDIT_KEY must be at least 32"):
        load_settings(rapid_review_var_dir=tmp_path)


def test_bad_encryption_key_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("RAPID_REVIEW_ENCRYPTION_KEY", "dG9vLXNob3J0")  # "too-short"
    with pytest.raises(SettingsError, match="RAPID_REVIEW_ENCRYPTION_KEY must be 32 bytes"):
        load_settings(rapid_review_var_dir=tmp_path)


def test_dev_generates_keys_once_and_keeps_them(monkeypatch, tmp_path):
    monkeypatch.delenv("RAPID_REVIEW_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("RAPID_REVIEW_AUDIT_KEY", raising=False)
    monkeypatch.delenv("RAPID_REVIEW_MODE", raising=False)
    first = load_settings(rapid_review_var_dir=tmp_path)
    second = load_settings(rapid_review_var_dir=tmp_path)
    assert len(first.encryption_key_bytes) == 32
    assert first.rapid_review_encryption_key == second.rapid_review_encryption_key
    assert first.secret_key == second.secret_key
    assert len(first.rapid_review_audit_key) >= 32
    assert first.rapid_review_audit_key == second.rapid_review_audit_key
    assert first.audit_anchor_dir == tmp_path / "audit-anchors"
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0, "secrets file must be private"
    assert first.sqlalchemy_url == f"sqlite:///{tmp_path / 'rapid_review.db'}"


def test_dev_adds_the_audit_key_to_an_older_secrets_file(monkeypatch, tmp_path):
    """A dev var/ from before the audit key existed keeps its keys (its workflows and sessions depend on
    them) and gains the audit key, once."""
    for name in ("RAPID_REVIEW_ENCRYPTION_KEY", "SECRET_KEY", "RAPID_REVIEW_AUDIT_KEY", "RAPID_REVIEW_MODE"):
        monkeypatch.delenv(name, raising=False)
    older = {"RAPID_REVIEW_ENCRYPTION_KEY": new_encryption_key(), "SECRET_KEY": "kept-secret-" + "k" * 40}
    (tmp_path / "secrets.json").write_text(json.dumps(older))
    (tmp_path / "secrets.json").chmod(0o600)
    first = load_settings(rapid_review_var_dir=tmp_path)
    assert first.rapid_review_encryption_key == older["RAPID_REVIEW_ENCRYPTION_KEY"]
    assert first.secret_key == older["SECRET_KEY"]
    assert len(first.rapid_review_audit_key) >= 32
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert stored == {**older, "RAPID_REVIEW_AUDIT_KEY": first.rapid_review_audit_key}
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0, "secrets file must stay private"
    assert load_settings(rapid_review_var_dir=tmp_path).rapid_review_audit_key == first.rapid_review_audit_key
