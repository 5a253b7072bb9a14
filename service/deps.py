"""What routes and pages need, as FastAPI dependencies (the full-stack template's ``deps.py``): the settings, the
database engine and a session per request, the Temporal connection and codec, the audit trail, the request id and
the case service. ``create_app`` puts each on ``app.state`` once; nothing else reads ``app.state``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from anyio.to_thread import run_sync as in_thread
from fastapi import Depends, Path, Request
from sqlalchemy import Engine
from sqlmodel import Session

from records.audit import AuditWriter
from records.codec import EncryptionCodec
from records.db import read_session
from records.models import User
from records.object_store import ObjectStore
from service.cases.case_service import CaseService
from service.platform.audit_trail import AuditTrail
from service.platform.settings import Settings
from service.platform.temporal import TemporalConnection


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def database_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_session(request: Request):
    """A database session per request (committed by the caller's explicit commit). A GET or HEAD only reads: its
    transactions take no write lock (``read_session``) and its audit rows go through the batch (``AuditWriter``).
    Made and closed on the event loop (neither touches the database), unless a transaction is still open at the end:
    its rollback is database work, done in a thread."""
    engine = database_engine(request)
    session = read_session(engine) if request.method in ("GET", "HEAD") else Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await in_thread(session.close)
        else:
            session.close()


def temporal_connection(request: Request) -> TemporalConnection:
    return request.app.state.temporal


def payload_codec(request: Request) -> EncryptionCodec:
    return request.app.state.codec


def audit_trail(request: Request) -> AuditTrail:
    """The app's audit chain (its database, key and anchors)."""
    return request.app.state.audit_trail


def document_store(request: Request) -> ObjectStore:
    """Where issued documents are read from: the store every host shares (one client per process)."""
    return request.app.state.document_store


def metrics_figures(request: Request):
    """The app's last /metrics figures (``service.api.metrics.Figures``), read at most once an interval."""
    return request.app.state.metrics_figures


def request_id(request: Request) -> str | None:
    """The id the request's log line and audit rows share (set by the app's middleware)."""
    return getattr(request.state, "request_id", None)


Found = TypeVar("Found")


def on_the_loop(read: Callable[[Request], Found]) -> Callable:
    """The dependency form of a function that only reads the app's or the request's state. FastAPI runs a plain
    function in a worker thread, a hop that costs far more than the read; an async one runs on the event loop."""

    async def dependency(request: Request) -> Found:
        return read(request)

    dependency.__name__ = dependency.__qualname__ = read.__name__
    dependency.__doc__ = read.__doc__
    return dependency


SettingsDep = Annotated[Settings, Depends(on_the_loop(app_settings))]
EngineDep = Annotated[Engine, Depends(on_the_loop(database_engine))]
DbSession = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[TemporalConnection, Depends(on_the_loop(temporal_connection))]
CodecDep = Annotated[EncryptionCodec, Depends(on_the_loop(payload_codec))]
AuditTrailDep = Annotated[AuditTrail, Depends(on_the_loop(audit_trail))]
DocumentStoreDep = Annotated[ObjectStore, Depends(on_the_loop(document_store))]
RequestId = Annotated[str | None, Depends(on_the_loop(request_id))]
RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="A row id")]


def writer(session: Session, request: Request) -> AuditWriter:
    """This request's audit writer (its session, the chain's key, the request id)."""
    return audit_trail(request).writer(session, request_id(request))


def audit(session: Session, request: Request, user: User | None, action: str, reference: str | None,
          detail: dict) -> None:
    """Append one audit row (actor, role, action, case, what, request id) and commit it."""
    writer(session, request).write(user, action, reference, detail)


async def case_service(request: Request, session: DbSession) -> CaseService:
    """The case service of this request: its session and what the app holds (read here, not as a dependency each:
    FastAPI's work per dependency, on every request, costs more than the reads)."""
    return CaseService(session=session, settings=app_settings(request), engine=database_engine(request),
                       temporal=temporal_connection(request), codec=payload_codec(request),
                       trail=audit_trail(request), request_id=request_id(request), documents=document_store(request))


Cases = Annotated[CaseService, Depends(case_service)]
