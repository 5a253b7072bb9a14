"""The FastAPI application: API routers, web pages, and the shared state they use."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from records.audit import DENIED, AuditWriter
from records.db import engine_for, session_scope
from records.errors import DomainError
from records.vocabulary import CASE_REFERENCE
from service.accounts.auth import SESSION_COOKIE
from service.accounts.sign_in import SecondFactorNeeded
from service.api import (
    action_plan,
    actions,
    audit,
    auth,
    calendar,
    case_links,
    cases,
    codec,
    dashboard,
    documents,
    escalations,
    events,
    health,
    metrics,
    outbox,
    review_types,
    sar_account,
    tasks,
    themes,
)
from service.api.routes import route_table
from service.platform.audit_trail import AuditTrail
from service.platform.http_errors import headers_of, status_of
from service.platform.http_guard import HttpGuard
from service.platform.settings import Settings, get_settings
from service.platform.temporal import TemporalConnection, codec_for
from service.web import accounts as account_pages
from service.web import audit as audit_pages
from service.web import (
    board,
    business,
    case_list,
    case_page,
    chronology,
    final_report,
    home,
    invitations,
    mfa,
    oidc,
    panel_pack,
    planning,
    referrals,
    sign_off,
)
from service.web import calendar as calendar_pages
from service.web import case_links as case_link_pages
from service.web import outbox as outbox_page
from service.web import review_types as review_type_pages
from service.web import sar_account as sar_account_page
from service.web import tasks as task_pages
from service.web.pages import SignInRequired, error_page, wants_page

log = logging.getLogger(__name__)
API_PREFIXES = ("/api", "/codec", "/healthz", "/livez", "/readyz", "/metrics", "/docs", "/openapi")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def create_app(settings: Settings | None = None, temporal_client=None) -> FastAPI:
    """The app; tests may hand in a Temporal client already connected (to a time-skipping server)."""
    settings = settings or get_settings()

    app = FastAPI(
        title="Rapid Review service",
        description="Rapid Reviews and Child Safeguarding Practice Reviews for a safeguarding partnership.",
        version="0.1.0",
        # Operation ids are the functions' names (``submit_referral``, ``list_tasks``): what a generated client
        # calls its methods. The per-action routes are named after their actions.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.engine = engine_for(settings.sqlalchemy_url)
    app.state.codec = codec_for(settings)
    app.state.audit_trail = AuditTrail.from_settings(app.state.engine, settings)
    app.state.document_store = settings.document_store()
    app.state.temporal = TemporalConnection.from_settings(settings, client=temporal_client)
    app.state.metrics_figures = metrics.Figures(settings.rapid_review_metrics_refresh_seconds)

    @app.middleware("http")
    async def request_id_and_log(request: Request, call_next):
        """Every request gets an id (the caller's X-Request-ID if sane) that the audit rows and the log
        line share. The log line has method, path (references only), status and time: never case content."""
        given = request.headers.get("x-request-id", "")
        request.state.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        reference = CASE_REFERENCE.search(request.url.path)
        log.info("%s %s %s %.0fms id=%s", request.method, request.url.path, response.status_code,
                 (time.perf_counter() - started) * 1000, request.state.request_id,
                 extra={"request_id": request.state.request_id,
                        "case_reference": reference.group(0) if reference else None})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse(
            {"detail": f"The request is not valid: {problems}", "errors": jsonable_errors(exc)}, status_code=422
        )

    async def refusal(request: Request, status_code: int, detail, headers: dict[str, str] | None):
        """JSON for API clients (the documented ``Error`` shape); an HTML page for people (an unknown address
        included)."""
        user = getattr(request.state, "user", None)
        if status_code in (403, 404) and user is not None:
            # A signed-in person refused, or probing for cases they cannot see: each attempt is on the record.
            await asyncio.to_thread(audit_denial, app.state.engine, app.state.audit_trail.key, user, request,
                                    status_code)
        if not wants_page(request, API_PREFIXES):
            return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)
        page = await error_page(request, status_code, detail)
        if headers:
            page.headers.update({k: v for k, v in headers.items() if k.lower() != "www-authenticate"})
        return page

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return await refusal(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):
        """The one place the domain's refusals (records/errors.py) become HTTP answers
        (service/platform/http_errors.py)."""
        return await refusal(request, status_of(exc), exc.detail, headers_of(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        """A failure nobody foresaw: logged with the request id only (never case content), and answered with a
        page for people or a JSON body for API clients."""
        log.error("unhandled %s on %s %s id=%s", type(exc).__name__, request.method, request.url.path,
                  getattr(request.state, "request_id", None))
        if not wants_page(request, API_PREFIXES):
            return JSONResponse({"detail": "The service failed; try again later"}, status_code=500)
        return await error_page(request, 500, None)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> RedirectResponse:
        response = RedirectResponse("/signin?ended=true" if exc.ended else "/signin", status_code=303)
        if exc.ended:
            response.delete_cookie(SESSION_COOKIE, path="/")  # the message is said once
        return response

    app.add_exception_handler(SecondFactorNeeded, mfa.second_factor_step)  # the sign-in page's 2nd step
    app.add_middleware(HttpGuard, production=settings.is_production)
    app.openapi = lambda: documented_errors(app)
    # A request is matched against the routes in this order, each costing a few microseconds: the most used first
    # (the board list, a case's state, a task's completion passed some 60 routes before, 1 ms a request under load).
    # The per-action routes (of the review types registered now) before the route for an action named in the path,
    # so they answer for every known action name. The pages after them: the new referral's /cases/new before a
    # case's /cases/{reference}.
    for router in (health.router, auth.router, cases.router, tasks.router, actions.action_router(),
                   cases.named_action_router, review_types.router, events.router, documents.router, audit.router,
                   action_plan.router, themes.router, escalations.router, dashboard.router, codec.router,
                   outbox.router, calendar.router, metrics.router,
                   *(module.router for module in (
                       home, board, referrals, case_page, sign_off, task_pages, outbox_page, business, account_pages,
                       calendar_pages, oidc, mfa, invitations, audit_pages, case_list, panel_pack, planning,
                       final_report, chronology, review_type_pages, case_links, case_link_pages, sar_account,
                       sar_account_page))):
        app.include_router(router)
    return app


def audit_denial(engine, key: bytes, user, request: Request, status_code: int) -> None:
    """A refusal on the record, under the case the request named (in its path or query), so the case's auditor
    sees who was refused it (the case's audit page, ``/api/cases/{reference}/audit?outcome=denied``)."""
    named = CASE_REFERENCE.search(f"{request.url.path}?{request.url.query}")
    with session_scope(engine) as session:
        AuditWriter(session, key, getattr(request.state, "request_id", None)).add(
            DENIED, named.group(0) if named else None,
            {"status": status_code, "method": request.method, "path": request.url.path[:300]},
            actor_id=user.id, actor_role=user.role)


ERROR_SCHEMA = {
    "title": "Error", "type": "object", "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, in words a person understands"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Each invalid field"},
    },
}


STANDARD_ERRORS = {
    401: "Not signed in, or the session or token has expired",
    403: "Your role may not use this",
    404: "Not found, or not yours to see",
    422: "The request is not valid: the detail names what is wrong",
}


def documented_errors(app: FastAPI) -> dict:
    """The OpenAPI schema, with every error answer a route can give documented in the one shape this service
    sends ({"detail": "..."}), in place of FastAPI's default list-shaped validation error."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = ERROR_SCHEMA
        error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        roles = {(rule.method.lower(), rule.path): rule.roles for rule in route_table(app)}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                answers = operation.setdefault("responses", {})
                needed = set()
                if roles.get((method, path)) is not None:
                    needed |= {401, 403}
                if "{" in path:
                    needed.add(404)
                if operation.get("parameters") or operation.get("requestBody"):
                    needed.add(422)
                for code in needed:
                    answers.setdefault(str(code), {"description": STANDARD_ERRORS[code]})
                for code, answer in answers.items():
                    if code[0] in "45":
                        answer["content"] = error_body
        app.openapi_schema = schema
    return app.openapi_schema


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
