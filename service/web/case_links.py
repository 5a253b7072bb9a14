"""The page that links a case to another of a different review type (one incident, two reviews), with the partners'
agreement to share returns; the links themselves show on both case pages (``templates/web/_case_links.html``). The
work is ``service/cases/case_links.py``'s, which the API's routes call too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from records.errors import DomainError
from records.models import User
from service.accounts.roles import CASE_LINKERS, EXECUTIVES
from service.cases.case_links import (
    NewLink,
    Unlink,
    agree_to_share,
    count_shared_returns,
    link_cases,
    links_of,
    remove_link,
)
from service.deps import Cases
from service.platform.http_errors import status_of
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)
Linker = Annotated[User, Depends(page_roles(*CASE_LINKERS))]
Executive = Annotated[User, Depends(page_roles(*EXECUTIVES))]


def _page(request: Request, cases: Cases, user: User, reference: str, *, status_code: int = 200,
          error: str | None = None, typed: dict | None = None) -> HTMLResponse:
    record = cases.visible(user, reference)
    return render(request, "case_links.html", user, status_code=status_code, reference=reference, record=record,
                  links=links_of(cases, user, reference), error=error, typed=typed or {})


@router.get("/cases/{reference}/links")
def link_form(reference: str, request: Request, cases: Cases, user: Linker) -> HTMLResponse:
    """The case's links and the form to add one."""
    return _page(request, cases, user, reference)


@router.post("/cases/{reference}/links")
async def link(reference: str, request: Request, cases: Cases, user: Linker,
               linked_reference: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
               share_returns: Annotated[str | None, Form()] = None,
               sharing_decision: Annotated[str, Form()] = "") -> Response:
    """Link the cases; a refusal shows the form again as typed, saying what is wrong."""
    typed = {"linked_reference": linked_reference, "reason": reason, "share_returns": bool(share_returns),
             "sharing_decision": sharing_decision}
    try:
        new = NewLink(linked_reference=linked_reference, reason=reason, share_returns=bool(share_returns),
                      sharing_decision=sharing_decision or None)
        link_cases(cases, user, reference, new)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return _page(request, cases, user, reference, status_code=422, error=problems, typed=typed)
    except DomainError as error:
        cases.session.rollback()
        return _page(request, cases, user, reference, status_code=status_of(error), error=error.detail, typed=typed)
    await count_shared_returns(cases, user, reference)
    return RedirectResponse(f"/cases/{reference}?done=link_cases#links-section", status_code=303)


@router.post("/cases/{reference}/links/{other}/agree")
async def agree(reference: str, other: str, cases: Cases, user: Executive) -> Response:
    """The executive's agreement to share, for her own seat, from the case page."""
    agree_to_share(cases, user, reference, other)
    await count_shared_returns(cases, user, reference)
    return RedirectResponse(f"/cases/{reference}?done=agree_to_share_returns#links-section", status_code=303)


@router.post("/cases/{reference}/links/{other}/remove")
def remove(reference: str, other: str, request: Request, cases: Cases, user: Linker,
           reason: Annotated[str, Form()] = "") -> Response:
    """Remove a link, saying why; without a reason the page says so and nothing changes."""
    try:
        remove_link(cases, user, reference, other, Unlink(reason=reason))
    except ValidationError:
        return _page(request, cases, user, reference, status_code=422,
                     error=f"say why the link to {other} is removed")
    return RedirectResponse(f"/cases/{reference}/links?done=unlink_cases", status_code=303)
