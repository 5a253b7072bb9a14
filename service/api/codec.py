"""Temporal's remote codec endpoint, so Temporal UI can show decoded histories to auditors.

Decode only: an encode endpoint would let anyone holding a role make payloads the worker accepts. Every
decode is a row in the audit trail (who read which workflow's payloads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from service.api.access import audit
from service.auth import DbSession, require_roles
from service.models import User
from workflows.vocabulary import Role

router = APIRouter(prefix="/codec", tags=["codec"])
Auditor = Annotated[User, Depends(require_roles(Role.auditor))]


@router.post("/decode")
async def decode(request: Request, session: DbSession, user: Auditor) -> Response:
    """Decrypt payloads (body and answer in Temporal's JSON form of ``Payloads``); unencrypted ones are
    answered as refused, never passed on as if the service had sent them."""
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
        decoded = await request.app.state.codec.decode(payloads.payloads)
    except (json_format.ParseError, ValueError) as exc:
        raise HTTPException(400, f"Not a payloads document this service can decode: {exc}") from exc
    # Temporal UI names the workflow it shows in this header; recorded as given (it is the caller's claim).
    workflow_id = (request.headers.get("X-Namespace"), request.headers.get("X-Workflow-Id"))
    audit(session, request, user, "decode_payloads", None,
          {"payloads": len(decoded), "namespace": workflow_id[0], "workflow_id": (workflow_id[1] or "")[:100]})
    return Response(json_format.MessageToJson(Payloads(payloads=decoded)), media_type="application/json")
