"""The FastAPI application: API routers, web pages, and the shared state they use."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.api import auth, cases, codec, health, outbox
from service.db import engine_for
from service.settings import Settings, get_settings
from service.temporal import EncryptionCodec, TemporalConnection

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, temporal_client=None) -> FastAPI:
    """The app; tests may hand in a Temporal client already connected (to a time-skipping server)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = FastAPI(
        title="Rapid Review service",
        description="Rapid Reviews and Child Safeguarding Practice Reviews for a safeguarding partnership.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine_for(settings.sqlalchemy_url)
    app.state.codec = EncryptionCodec(settings.encryption_key_bytes)
    app.state.temporal = TemporalConnection(
        settings.temporal_address or "127.0.0.1:7233", settings.temporal_namespace, settings.encryption_key_bytes,
        client=temporal_client,
    )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse(
            {"detail": f"The request is not valid: {problems}", "errors": jsonable_errors(exc)}, status_code=422
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    for module in (health, auth, cases, codec, outbox):
        app.include_router(module.router)
    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
