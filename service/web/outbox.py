"""The outbox page: the e-mails queued and sent, for administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from records.models import OutboxMessage, User
from service.accounts.roles import ADMINS
from service.web.pages import PageSession, page_roles, render

router = APIRouter(include_in_schema=False)


@router.get("/outbox")
def outbox_page(request: Request, session: PageSession,
                user: Annotated[User, Depends(page_roles(*ADMINS))]) -> HTMLResponse:
    messages = session.exec(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    return render(request, "outbox.html", user, messages=messages)
