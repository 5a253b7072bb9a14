"""Where issued documents and the audit anchors live, so that every host reads what any host wrote.

One small interface, two backends: a directory (one host, or a file system every host mounts) and an S3-compatible
bucket (several hosts). Everything is written once and never overwritten: a document is stored under the SHA-256 of
its bytes (the register keeps the key and the hash, so a download is checked against both), an anchor under its own
name. The database holds keys relative to the store, never a host's absolute path.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class MissingObject(LookupError):
    """The store has nothing under this key (never the key's content in the message: keys carry no case text)."""


class ObjectStore(Protocol):
    def create(self, key: str, data: bytes) -> bool:
        """Write ``data`` under ``key`` once: False, and nothing written, if the key already exists."""

    def read(self, key: str) -> bytes:
        """The bytes under ``key``; MissingObject if there are none."""

    def keys(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix``, sorted."""


def content_key(data: bytes) -> str:
    """A document's key: its SHA-256, fanned out by the first two hex digits (no directory holds millions)."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{digest[:2]}/{digest}"


def store_content(store: ObjectStore, data: bytes) -> str:
    """Store bytes by their hash; the same bytes again are already there (written once, never replaced)."""
    key = content_key(data)
    store.create(key, data)
    return key


def read_stored(store: ObjectStore, stored: str) -> bytes:
    """A register entry's bytes: a key in the store, or (rows issued before the store) the absolute path the issuing
    host wrote, readable on that host only (docs/deploy.md, "Documents and audit anchors across hosts")."""
    if stored.startswith("/"):
        try:
            return Path(stored).read_bytes()
        except FileNotFoundError:
            raise MissingObject(stored) from None
    return store.read(stored)


def invitation_ics_key(pdf_stored: str) -> str:
    """Where a panel invitation's calendar file is, beside its PDF: the PDF's key with ".ics" (or, for an invitation
    issued before the store, the file the issuing host wrote next to the PDF)."""
    if pdf_stored.startswith("/"):
        return str(Path(pdf_stored).with_suffix(".ics"))
    return f"{pdf_stored}.ics"


def _checked(key: str) -> str:
    if not SAFE_KEY.match(key) or ".." in key.split("/"):
        raise ValueError("an object key is letters, digits, '.', '_', '-' and '/' between them, never '..'")
    return key


class FileStore:
    """A directory: objects are files under it (mode 0600, in directories of mode 0700), created with a hard link
    from a fully written, fsynced temporary file, so a reader never sees half an object and nothing is replaced."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MissingObject(key) from None

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        found = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*")
                 if path.is_file() and not path.name.startswith(".part-"))
        return sorted(key for key in found if key.startswith(prefix))


class S3Store:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph, …) under a prefix. A key is created with a conditional put
    (`If-None-Match: *`), so two hosts writing the same key at once leave the first object in place. Credentials come
    from boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, the instance's role)."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, region: str | None = None,
                 timeout_seconds: float = 30.0) -> None:
        import boto3  # here, not at import: the file backend never pays for botocore's start-up
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=Config(
            connect_timeout=timeout_seconds, read_timeout=timeout_seconds, retries={"max_attempts": 5},
            s3={"addressing_style": "path"} if endpoint_url else None))

    def create(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + _checked(key), Body=data, IfNoneMatch="*")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def read(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(key))["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise MissingObject(key) from None
            raise

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        return sorted(item["Key"][len(self.prefix):] for page in pages for item in page.get("Contents", []))
