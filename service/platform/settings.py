"""Settings read from environment variables, in one place.

In ``dev`` mode every secret that is missing is generated once and kept in ``var/secrets.json`` so a
newcomer can start the service with no configuration. In ``production`` mode a missing secret stops
start-up with a message naming the variable: silently generating a key there would make every
encrypted workflow payload unreadable after the next restart.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from records.object_store import FileStore, ObjectStore, S3Store


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names the environment variable."""


REQUIRED_IN_PRODUCTION = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "RAPID_REVIEW_ENCRYPTION_KEY",
    "SECRET_KEY",
    "RAPID_REVIEW_AUDIT_KEY",
)

# The secrets dev mode generates when they are missing, and how each is made.
DEV_SECRETS = {
    "RAPID_REVIEW_ENCRYPTION_KEY": lambda: new_encryption_key(),
    "SECRET_KEY": lambda: secrets.token_urlsafe(48),
    "RAPID_REVIEW_AUDIT_KEY": lambda: secrets.token_urlsafe(48),
}


class OidcIssuer(BaseModel):
    """One partner organisation's OpenID Connect issuer (its Entra ID tenant, say): the sign-in page shows a
    button for each. ``allowed_tenant_ids``: the tenants (``tid``) let in; a multi-tenant Entra ID issuer with an
    empty list lets nobody in (it would let in every organisation in Entra ID). ``link_verified_email``: an
    identity no admin has linked yet is linked on its first sign-in to the one active user with that e-mail
    address, only when the issuer says it verified the address (``email_verified``), the address is in one of the
    issuer's own ``link_email_domains`` (another organisation's users must not claim this partnership's addresses)
    and the account is an agency member's (roles.E_MAIL_LINKABLE): an admin, Executive, auditor or any case-running
    role is linked only by an admin, so a claimed address can never become one of them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    label: str = Field(min_length=1, max_length=100)
    discovery_url: str
    client_id: str
    client_secret: str = Field(default="", repr=False)
    allowed_tenant_ids: list[str] = []
    link_verified_email: bool = False
    link_email_domains: list[str] = []  # e.g. ["police.example.org"]: the issuer's organisation's own domains
    scopes: str = "openid email profile"


@dataclass(frozen=True, repr=False)
class TemporalSecurity:
    """How the service's clients reach a secured Temporal: TLS (the system's CAs, or ``server_ca``), the name the
    server's certificate must carry, a client certificate and key (mTLS), an API key (Temporal Cloud). File contents,
    read once at start-up; ``repr`` names what is set, never a key."""

    tls: bool = False
    server_ca: bytes | None = None
    server_name: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    api_key: str | None = None

    def __repr__(self) -> str:
        parts = [name for name in ("server_ca", "client_cert", "api_key") if getattr(self, name)]
        return f"TemporalSecurity(tls={self.tls}, server_name={self.server_name!r}, set={parts})"


class Settings(BaseSettings):
    """Every field is read from the environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, values):
        """An optional setting given as an empty string is not set: compose passes `${SMTP_USERNAME:-}` as "", which
        must not make the mail client authenticate (nor a metrics token of length 0 fail its minimum)."""
        if not isinstance(values, dict):
            return values
        optional = {name for name, field in cls.model_fields.items() if type(None) in get_args(field.annotation)}
        return {name: None if name.lower() in optional and value == "" else value for name, value in values.items()}

    rapid_review_mode: Literal["dev", "production"] = "dev"
    # Read at start-up by the CLI (service/platform/logs.py): "json" for one JSON object per line.
    rapid_review_log_format: Literal["text", "json"] = "text"
    rapid_review_var_dir: Path = Path("var")
    rapid_review_partnership_name: str = "Demo Local Safeguarding Children Partnership"
    rapid_review_public_url: str = "http://127.0.0.1:8000"
    # The Temporal UI's origin (scheme://host[:port]): the only page whose browser calls to /codec/decode are
    # allowed (CORS, and the CSRF rule for that route). Unset: no browser page may call the codec.
    rapid_review_temporal_ui_origin: str | None = None
    # Where issued documents and the signed audit anchors are kept (records/object_store.py): "file", the two
    # directories below (one host, or a file system every host mounts), or "s3", one S3-compatible bucket that every
    # host reaches (documents under "documents/", anchors under "audit-anchors/"; credentials from boto3's own chain:
    # AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or the instance's role). docs/deploy.md, "Documents and
    # audit anchors across hosts".
    rapid_review_document_store: Literal["file", "s3"] = "file"
    rapid_review_document_dir: Path | None = None
    # Keep the anchors off the database host, backed up apart (with "s3": a bucket with object lock).
    rapid_review_audit_anchor_dir: Path | None = None
    rapid_review_s3_bucket: str | None = None
    rapid_review_s3_endpoint_url: str | None = None  # unset: AWS itself; set for MinIO, Ceph and the like
    rapid_review_s3_region: str | None = None

    database_url: str | None = None

    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "rapid-review"
    # Sticky execution keeps a workflow on the worker that last ran it. A real Temporal server moves the
    # workflow on when that worker dies; the embedded test server never does, so `dev` turns it off there.
    temporal_sticky_workflows: bool = True
    # How many workflows a worker keeps in memory between their tasks (sticky cache). Unset: as many as fit in a
    # quarter of the memory the worker may use, at about 0.6 MiB each (service/platform/worker.py, docs/deploy.md).
    temporal_max_cached_workflows: int | None = Field(default=None, ge=0, le=1_000_000)
    # Processes beside each worker that render documents (activities/rendering.py); unset: one per core the worker
    # may run on but one, at least one. About 120 MiB each (docs/deploy.md, "Worker memory").
    rapid_review_render_processes: int | None = Field(default=None, ge=1, le=64)
    # A secured Temporal (docs/deploy.md, "Connecting to a secured Temporal"): TLS with the system's CAs (or the CA
    # in TEMPORAL_TLS_CA_FILE), mTLS with a client certificate and key, or an API key (Temporal Cloud), which is
    # never sent without TLS. Any of the files turns TLS on; TEMPORAL_TLS=false with any of them is refused.
    temporal_tls: bool | None = None
    temporal_tls_ca_file: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_api_key: str | None = Field(default=None, repr=False)
    temporal_api_key_file: Path | None = None

    rapid_review_encryption_key: str | None = Field(default=None, repr=False)
    # Keys rotated out, comma-separated: still decrypt (and verify seals of) what they encrypted, never encrypt.
    rapid_review_old_encryption_keys: str = Field(default="", repr=False)
    secret_key: str | None = Field(default=None, repr=False)
    # SECRET_KEYs rotated out, comma-separated: authenticator secrets sealed under them still open (and are sealed
    # again under SECRET_KEY at their owner's next sign-in); docs/deploy.md, "Key rotation".
    rapid_review_old_secret_keys: str = Field(default="", repr=False)
    # Keys the audit chain's HMACs. It must never be stored in the database the chain protects: whoever
    # can rewrite the rows must not also be able to recompute their hashes.
    rapid_review_audit_key: str | None = Field(default=None, repr=False)

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_from: str = "rapid-review@localhost"
    smtp_starttls: bool = True
    # The longest one e-mail may take, from connecting to the relay's answer (the Notify client's too): a relay
    # that hangs ends the attempt, which is recorded and retried, instead of holding the sender.
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # A sender holds each message it sends by a lease of this length, renewed every third of it while it sends;
    # another API takes the message only once the lease has ended (a sender that died). Keep the hosts' clocks
    # in step (NTP) to well within this.
    outbox_lease_seconds: float = Field(default=60.0, gt=0)

    # How long the API waits for a workflow to answer an action before it tells the person to retry.
    action_answer_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a referral waits for its case to be readable (its first step in the read model) before it is
    # answered 202 Accepted with the case's Location instead of 201 Created.
    referral_readable_within_seconds: float = Field(default=10.0, gt=0, le=60)

    # Sessions (cookies and bearer tokens): ended after this long without a request, and this long after
    # sign-in whatever happens. Both are read on every request, so a change applies to running sessions.
    session_idle_minutes: float = Field(default=30.0, gt=0)
    session_absolute_hours: float = Field(default=12.0, gt=0)
    # Sign-in backoff (service.accounts.auth.SignInBackoff): failures in the window past the free number make the next
    # attempt wait first-wait, then double (1, 2, 4 ... s) after the last failure, never more than the cap. Per
    # username from one client address and, more leniently (an office shares one address), per client address.
    sign_in_failure_window_minutes: float = Field(default=15.0, gt=0)
    sign_in_free_failures_per_username: int = Field(default=3, ge=0)
    sign_in_free_failures_per_address: int = Field(default=10, ge=0)
    sign_in_first_wait_seconds: int = Field(default=1, ge=1)
    sign_in_max_wait_seconds: int = Field(default=120, ge=1)

    # Partners' own sign-in: a JSON list of issuers (OidcIssuer), e.g. [{"name": "county", "label": "County
    # Council", "discovery_url": "https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration",
    # "client_id": "...", "client_secret": "..."}]
    oidc_issuers: list[OidcIssuer] = []
    # TOTP for local accounts of every role that acts on or reads cases: unset means on in production and off in
    # dev (the demo). An enrolled account always needs its code, whatever this says.
    rapid_review_require_mfa: bool | None = None

    # GOV.UK Notify instead of SMTP when an API key is set: one e-mail template whose body is ((body)) and
    # subject ((subject)).
    notify_api_key: str | None = Field(default=None, repr=False)
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_email_template_id: str | None = None
    notify_timeout_seconds: float = Field(default=30.0, gt=0)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # API processes sharing the port (service/platform/api_processes.py); unset: one per core the API may run on.
    api_workers: int | None = Field(default=None, ge=1, le=64)
    # A connection must finish sending a request's headers this many seconds after it opened (or after its
    # previous answer): a client trickling header bytes cannot hold a connection open (service/platform/http_guard.py).
    api_header_timeout: float = Field(default=10.0, gt=0, le=300)

    # Prometheus: the API's /metrics answers a scraper that sends `Authorization: Bearer <this token>` (no token
    # set: /metrics is off); each worker's Temporal SDK metrics are served at this host:port (none: off).
    rapid_review_metrics_token: str | None = Field(default=None, repr=False, min_length=16)
    # The figures are read from the database at most this often; scrapes in between get the last ones (0: always).
    rapid_review_metrics_refresh_seconds: float = Field(default=15.0, ge=0, le=3600)
    temporal_metrics_address: str | None = None

    @property
    def is_production(self) -> bool:
        return self.rapid_review_mode == "production"

    @property
    def require_mfa(self) -> bool:
        return self.is_production if self.rapid_review_require_mfa is None else self.rapid_review_require_mfa

    def oidc_issuer(self, name: str) -> OidcIssuer | None:
        return next((issuer for issuer in self.oidc_issuers if issuer.name == name), None)

    @property
    def var_dir(self) -> Path:
        return self.rapid_review_var_dir

    @property
    def temporal_security(self) -> TemporalSecurity:
        """The TEMPORAL_TLS* and TEMPORAL_API_KEY* settings, their files read; SettingsError names what is wrong."""
        if bool(self.temporal_tls_cert_file) != bool(self.temporal_tls_key_file):
            raise SettingsError("TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together (mTLS needs the client "
                                "certificate and its private key): set both or neither")
        if self.temporal_api_key and self.temporal_api_key_file:
            raise SettingsError("Set TEMPORAL_API_KEY or TEMPORAL_API_KEY_FILE, not both")
        api_key = self.temporal_api_key or (_read_setting_file("TEMPORAL_API_KEY_FILE", self.temporal_api_key_file)
                                            .decode().strip() if self.temporal_api_key_file else None)
        wanted = bool(self.temporal_tls_ca_file or self.temporal_tls_cert_file or self.temporal_tls_server_name
                      or api_key)
        if self.temporal_tls is False and wanted:
            raise SettingsError("TEMPORAL_TLS is false but a TLS file, server name or API key is set: an API key is "
                                "never sent in clear, and a certificate means TLS")
        return TemporalSecurity(
            tls=bool(self.temporal_tls or wanted),
            server_ca=_read_setting_file("TEMPORAL_TLS_CA_FILE", self.temporal_tls_ca_file),
            server_name=self.temporal_tls_server_name,
            client_cert=_read_setting_file("TEMPORAL_TLS_CERT_FILE", self.temporal_tls_cert_file),
            client_key=_read_setting_file("TEMPORAL_TLS_KEY_FILE", self.temporal_tls_key_file),
            api_key=api_key or None,
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
        url = self.database_url or f"sqlite:///{self.var_dir / 'rapid_review.db'}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url

    @property
    def document_dir(self) -> Path:
        return self.rapid_review_document_dir or self.var_dir / "documents"

    @property
    def audit_anchor_dir(self) -> Path:
        return self.rapid_review_audit_anchor_dir or self.var_dir / "audit-anchors"

    def document_store(self) -> ObjectStore:
        """Where issued documents are written and read, by the worker and every API alike."""
        return self._store("documents/", self.document_dir)

    def anchor_store(self) -> ObjectStore:
        """Where the audit anchors are written, once each."""
        return self._store("audit-anchors/", self.audit_anchor_dir)

    def _store(self, prefix: str, directory: Path) -> ObjectStore:
        if self.rapid_review_document_store == "file":
            return FileStore(directory)
        return S3Store(self.rapid_review_s3_bucket or "", prefix, endpoint_url=self.rapid_review_s3_endpoint_url,
                       region=self.rapid_review_s3_region)

    @property
    def audit_key_bytes(self) -> bytes:
        return (self.rapid_review_audit_key or "").encode()

    @property
    def encryption_key_bytes(self) -> bytes:
        return decode_encryption_key(self.rapid_review_encryption_key or "")

    @property
    def old_secret_keys(self) -> tuple[str, ...]:
        return tuple(value.strip() for value in self.rapid_review_old_secret_keys.split(",") if value.strip())

    @property
    def old_encryption_keys_bytes(self) -> tuple[bytes, ...]:
        return tuple(decode_encryption_key(value.strip())
                     for value in self.rapid_review_old_encryption_keys.split(",") if value.strip())


def _read_setting_file(variable: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{variable}: cannot read {path} ({exc.strerror or exc})") from None


def decode_encryption_key(value: str) -> bytes:
    """An AES-256 key given as URL-safe base64 of 32 bytes."""
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except (ValueError, TypeError) as exc:
        raise SettingsError("RAPID_REVIEW_ENCRYPTION_KEY is not valid base64") from exc
    if len(key) != 32:
        raise SettingsError(
            "RAPID_REVIEW_ENCRYPTION_KEY must be 32 bytes of URL-safe base64 (AES-256); "
            f"it decodes to {len(key)} bytes"
        )
    return key


def _is_origin(value: str) -> bool:
    """What a browser sends as ``Origin``: http(s), a host, an optional port, nothing else."""
    parts = urlsplit(value)
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username
            and parts.path == "" and not parts.query and not parts.fragment and value == value.strip())


def new_encryption_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _dev_secrets(var_dir: Path) -> dict[str, str]:
    """Secrets generated on the first dev start and reused afterwards (file readable by owner only).

    A secrets.json from before a secret existed gets that secret added. The read-and-add runs under a lock
    because `rapid-review worker` and `rapid-review api` may start together: two processes each adding a
    different audit key would leave one of them writing rows the other cannot verify."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "secrets.json"
    with open(var_dir / ".secrets.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        values = json.loads(path.read_text()) if path.exists() else {}
        missing = {name: make() for name, make in DEV_SECRETS.items() if not values.get(name)}
        if missing:
            values.update(missing)
            fresh = path.with_name("secrets.json.new")
            fresh.unlink(missing_ok=True)
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(values, handle)
            os.replace(fresh, path)
    return values


def load_settings(**overrides: object) -> Settings:
    """Read, complete and check the settings; raise SettingsError naming what is wrong."""
    settings = Settings(**overrides)
    if settings.is_production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not getattr(settings, name.lower())]
        if missing:
            raise SettingsError(
                "Production mode needs these environment variables, which are not set: " + ", ".join(missing)
            )
    else:
        fields = [name.lower() for name in DEV_SECRETS]
        if not all(getattr(settings, field) for field in fields):
            generated = _dev_secrets(settings.var_dir)
            settings = settings.model_copy(
                update={field: getattr(settings, field) or generated[field.upper()] for field in fields}
            )
    if settings.notify_api_key and not settings.notify_email_template_id:
        raise SettingsError("NOTIFY_API_KEY is set but NOTIFY_EMAIL_TEMPLATE_ID is not: name the Notify e-mail "
                            "template whose subject is ((subject)) and body ((body))")
    decode_encryption_key(settings.rapid_review_encryption_key or "")
    settings.old_encryption_keys_bytes  # noqa: B018 - each old key must decode too (the message names the variable)
    if settings.rapid_review_temporal_ui_origin and not _is_origin(settings.rapid_review_temporal_ui_origin):
        raise SettingsError("RAPID_REVIEW_TEMPORAL_UI_ORIGIN must be an origin such as https://temporal.example.org "
                            "(scheme, host and port only, no path)")
    if settings.rapid_review_document_store == "s3" and not settings.rapid_review_s3_bucket:
        raise SettingsError("RAPID_REVIEW_DOCUMENT_STORE=s3 needs RAPID_REVIEW_S3_BUCKET (the bucket every host "
                            "reaches)")
    settings.temporal_security  # noqa: B018 - its files must be readable and its settings agree (names the variable)
    if settings.is_production and len(settings.secret_key or "") < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters in production mode")
    if settings.is_production and len(settings.rapid_review_audit_key or "") < 32:
        raise SettingsError("RAPID_REVIEW_AUDIT_KEY must be at least 32 characters in production mode")
    return settings


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own with load_settings)."""
    return load_settings()
