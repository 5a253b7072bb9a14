"""Documents and audit anchors across hosts: the store interface on both backends (a directory, and an S3-compatible
bucket on a real S3 server, moto's, on loopback), and two hosts (each an API and a worker with its own disk) that
share PostgreSQL, the engine and the bucket, where every document any worker issued downloads through either API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from engine.calendar import london_date
from records.object_store import FileStore, MissingObject, S3Store, content_key, read_stored, store_content
from service.platform.audit_trail import AuditTrail
from service.platform.runner import ServiceProcesses, free_port, wait_until_ready
from tests.conftest import TEST_AUDIT_KEY, TEST_KEY
from tests.postgres import create_database, drop_database

SECRET = "two-hosts-secret-key-" + "x" * 32
REGION = "eu-west-2"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rapid-review-test", "AWS_SECRET_ACCESS_KEY": "rapid-review-test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3-compatible server on a loopback port, with one bucket per test module run."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield endpoint
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def new_bucket(endpoint: str) -> str:
    name = f"rapid-review-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return FileStore(tmp_path / "store")
    endpoint = request.getfixturevalue("s3_endpoint")
    return S3Store(new_bucket(endpoint), "documents/", endpoint_url=endpoint, region=REGION)


def test_objects_are_written_once_by_hash_and_never_replaced(store):
    key = store_content(store, b"%PDF decision sheet v1")
    assert key == content_key(b"%PDF decision sheet v1") and store.read(key) == b"%PDF decision sheet v1"
    assert store_content(store, b"%PDF decision sheet v1") == key, "the same bytes again: the same key, no error"
    assert store.create(key, b"altered") is False and store.read(key) == b"%PDF decision sheet v1"
    assert store.create("audit-anchor-2026-12-05.json", b"{}") is True
    assert store.keys("audit-anchor-") == ["audit-anchor-2026-12-05.json"]
    assert sorted(store.keys()) == sorted([key, "audit-anchor-2026-12-05.json"])
    with pytest.raises(MissingObject):
        store.read("00/" + "0" * 64)
    for unsafe in ("../secrets.json", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError, match="object key"):
            store.create(unsafe, b"x")


def test_a_register_entry_from_before_the_store_is_still_read_from_its_path(tmp_path):
    legacy = tmp_path / "documents" / "RR-2026-001" / "decision_sheet-v1.pdf"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"%PDF old")
    store = FileStore(tmp_path / "store")
    assert read_stored(store, str(legacy)) == b"%PDF old"
    with pytest.raises(MissingObject):
        read_stored(store, str(legacy.with_name("gone.pdf")))


def test_audit_anchors_in_a_bucket_are_written_once_and_verified(engine, s3_endpoint):
    anchors = S3Store(new_bucket(s3_endpoint), "audit-anchors/", endpoint_url=s3_endpoint, region=REGION)
    trail = AuditTrail(engine, TEST_AUDIT_KEY.encode(), anchors)
    day = london_date(datetime.now(UTC))
    key = trail.write_anchor(day)
    assert key == f"audit-anchor-{day}.json" and anchors.keys() == [key]
    assert trail.write_anchor(day) is None, "an anchor of that name exists: never overwritten"
    check = trail.verify(full=True)
    assert check.intact is True and check.anchors == 1, "the anchor is read back from the bucket and checked"


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory, postgres_base_url, database_templates, s3_endpoint):
    """Host A and host B: each a `rapid-review api` and a `rapid-review worker` with its own var, document and anchor
    directories (their own disks), sharing PostgreSQL, the Temporal engine and the bucket."""
    directory = tmp_path_factory.mktemp("two-hosts")
    name = f"two_hosts_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_base_url, name, template=database_templates.template("postgresql", True))
    stack = ServiceProcesses(directory / "a", url, TEST_KEY, SECRET, audit_key=TEST_AUDIT_KEY)
    shared = {**CREDENTIALS, "RAPID_REVIEW_DOCUMENT_STORE": "s3", "RAPID_REVIEW_S3_BUCKET": new_bucket(s3_endpoint),
              "RAPID_REVIEW_S3_ENDPOINT_URL": s3_endpoint, "RAPID_REVIEW_S3_REGION": REGION}
    hosts = {}
    for host in ("a", "b"):
        var = directory / host / "host-disk"
        hosts[host] = {**stack.env, **shared, "RAPID_REVIEW_VAR_DIR": str(var),
                       "RAPID_REVIEW_DOCUMENT_DIR": str(var / "documents"),
                       "RAPID_REVIEW_AUDIT_ANCHOR_DIR": str(var / "audit-anchors"), "API_PORT": str(free_port())}
    try:
        for host, env in hosts.items():
            for part in ("worker", f"api{' --no-scheduler' if host == 'b' else ''}"):
                stack.processes.append(subprocess.Popen(  # noqa: S603 - the service's own CLI
                    [sys.executable, "-m", "service.cli", *part.split()], env=env, stdout=stack.log,
                    stderr=subprocess.STDOUT))
        urls = [f"http://127.0.0.1:{env['API_PORT']}" for env in hosts.values()]

        async def ready():
            await asyncio.gather(*(wait_until_ready(base) for base in urls))

        asyncio.run(ready())
        yield urls, hosts, database_templates.passwords["strategy.manager"]
    finally:
        for process in stack.processes:
            process.terminate()
        stack.stop()
        drop_database(postgres_base_url, name)


async def test_every_document_downloads_through_both_hosts(two_hosts):
    urls, hosts, password = two_hosts
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in urls]
    try:
        token = await clients[0].post("/api/auth/token", data={"username": "strategy.manager", "password": password})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        today = str(london_date(datetime.now(UTC)))
        references = []
        for number in range(4):  # alternately through each host; either worker issues each acknowledgement
            answer = await clients[number % 2].post("/api/cases", headers=headers, json={
                "pseudonym": f"Child {number}", "age_band": "5-9", "summary": "Two hosts", "incident_date": today,
                "awareness_date": today, "referring_agency": "police"})
            assert answer.status_code == 201, answer.text
            references.append(answer.json()["reference"])
        documents = []
        for reference in references:
            for _ in range(120):
                listed = (await clients[1].get(f"/api/cases/{reference}/documents", headers=headers)).json()
                if listed:
                    break
                await asyncio.sleep(0.5)
            assert listed, f"{reference}: no document issued"
            documents += listed
        downloads = [(client, document, url_kind) for client in clients for document in documents
                     for url_kind in ("pdf_url", "html_url")]
        answers = await asyncio.gather(*(client.get(document[url_kind], headers=headers)
                                         for client, document, url_kind in downloads))
    finally:
        for client in clients:
            await client.aclose()
    failed = [(str(client.base_url), document["id"], answer.status_code)
              for (client, document, _), answer in zip(downloads, answers, strict=True) if answer.status_code != 200]
    assert failed == [], f"{len(failed)} of {len(answers)} downloads failed"
    assert all(answer.headers["X-Content-SHA256"] == document[kind.replace("_url", "_sha256")]
               for (_, document, kind), answer in zip(downloads, answers, strict=True))
    for env in hosts.values():  # nothing of a case on either host's own disk: documents and anchors are in the bucket
        for local in ("RAPID_REVIEW_DOCUMENT_DIR", "RAPID_REVIEW_AUDIT_ANCHOR_DIR"):
            assert not any(path.is_file() for path in Path(env[local]).rglob("*")), env[local]
