"""Temporal's remote codec endpoint, so Temporal UI can show decoded histories to auditors.

Decode only: an encode endpoint would let anyone holding a role make payloads the worker accepts. Every
decode is a row in the audit trail (who read which workflow's payloads).

The UI calls this from the auditor's browser, from its own origin (``RAPID_REVIEW_TEMPORAL_UI_ORIGIN``), with
the auditor's session cookie (``TEMPORAL_CODEC_INCLUDE_CREDENTIALS``). So this route, and only this one, answers
CORS for exactly that origin, with credentials; and since the UI cannot send the session's CSRF token, a
cookie-authenticated decode must carry that origin in ``Origin`` instead (a page elsewhere cannot forge it).
"""

from __future__ import annotations

from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from records.models import User
from service.accounts.auth import require_roles
from service.accounts.roles import AUDITORS
from service.api.access import audit
from service.deps import DbSession, app_settings, payload_codec

router = APIRouter(prefix="/codec", tags=["codec"])
Auditor = Annotated[User, Depends(require_roles(*AUDITORS))]
# What the UI's fetch sends (temporalio/ui src/lib/services/data-encoder.ts): JSON, the namespace it shows.
ALLOWED_HEADERS = "Content-Type, X-Namespace"
PREFLIGHT_CACHE_SECONDS = "600"


def ui_origin(request: Request) -> str | None:
    """The request's ``Origin`` if it is the configured Temporal UI's, else None."""
    allowed = app_settings(request).rapid_review_temporal_ui_origin
    origin = request.headers.get("origin")
    return origin if allowed and origin == allowed else None


def allow_the_ui_origin(request: Request) -> None:
    """Runs before the sign-in check (a route-level dependency): lets the UI's origin stand in for the CSRF token."""
    request.state.csrf_origin = app_settings(request).rapid_review_temporal_ui_origin


def cors_headers(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


@router.options("/decode", include_in_schema=False)
async def decode_preflight(request: Request) -> Response:
    """The browser's CORS preflight: allowed for the Temporal UI's origin only (any other gets no CORS headers,
    so the browser never sends the POST)."""
    origin = ui_origin(request)
    if origin is None:
        return Response(status_code=403, headers={"Vary": "Origin"})
    return Response(status_code=204, headers={
        **cors_headers(origin), "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": PREFLIGHT_CACHE_SECONDS})


@router.post("/decode", dependencies=[Depends(allow_the_ui_origin)])
async def decode(request: Request, session: DbSession, user: Auditor) -> Response:
    """Decrypt payloads (body and answer in Temporal's JSON form of ``Payloads``); unencrypted ones are
    answered as refused, never passed on as if the service had sent them."""
    # Temporal UI names the namespace it shows in this header; recorded as given (it is the caller's claim).
    claimed = {"namespace": (request.headers.get("X-Namespace") or "")[:100],
               "workflow_id": (request.headers.get("X-Workflow-Id") or "")[:100],
               "origin": (request.headers.get("origin") or "")[:200]}
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
        decoded = await payload_codec(request).decode(payloads.payloads)
    except (json_format.ParseError, ValueError, InvalidTag, DecodeError) as exc:
        # Ciphertext that fails its check was changed after the service encrypted it (or under a key this
        # service never held): an auditor's tool fed tampered data is on the record, and answered, not a 500.
        why = (str(exc) or "") if isinstance(exc, json_format.ParseError | ValueError) else (
            "a payload was changed after it was encrypted, or was encrypted with a key this service does not hold")
        audit(session, request, user, "decode_refused", None, {**claimed, "why": type(exc).__name__})
        raise HTTPException(400, f"Not a payloads document this service can decode: {why}") from exc
    audit(session, request, user, "decode_payloads", None, {"payloads": len(decoded), **claimed})
    origin = ui_origin(request)
    return Response(json_format.MessageToJson(Payloads(payloads=decoded)), media_type="application/json",
                    headers=cors_headers(origin) if origin else {"Vary": "Origin"})
