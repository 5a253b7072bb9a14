"""Temporal's remote codec endpoints, so Temporal UI can show decoded histories to auditors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from service.auth import require_roles
from service.models import User
from workflows.vocabulary import Role

router = APIRouter(prefix="/codec", tags=["codec"])
Auditor = Annotated[User, Depends(require_roles(Role.auditor))]


async def _convert(request: Request, decode: bool) -> Response:
    codec = request.app.state.codec
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
        converted = await (codec.decode(payloads.payloads) if decode else codec.encode(payloads.payloads))
    except (json_format.ParseError, ValueError) as exc:
        raise HTTPException(400, f"Not a payloads document this service can convert: {exc}") from exc
    body = json_format.MessageToJson(Payloads(payloads=converted))
    return Response(body, media_type="application/json")


@router.post("/decode")
async def decode(request: Request, user: Auditor) -> Response:
    """Decrypt payloads (body and answer in Temporal's JSON form of ``Payloads``)."""
    return await _convert(request, decode=True)


@router.post("/encode")
async def encode(request: Request, user: Auditor) -> Response:
    """Encrypt payloads (body and answer in Temporal's JSON form of ``Payloads``)."""
    return await _convert(request, decode=False)
