"""The case list page: every case, open, closed or declined, for the roles who read every case (the board's): search
by reference or pseudonym, filter by status, stage and year, sort, and page through (``service/case_list.py``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from records.models import User
from service.case_list import CaseOrder, CaseStatus, find_cases
from service.deps import Cases
from service.roles import BOARD_ROLES
from service.web import page_roles, render
from workflows.vocabulary import Stage

router = APIRouter(include_in_schema=False)
ORDER_WORDS = {CaseOrder.newest: "Opened, newest first", CaseOrder.oldest: "Opened, oldest first",
               CaseOrder.reference: "Reference"}


@router.get("/cases")
def case_list(request: Request, cases: Cases, user: Annotated[User, Depends(page_roles(*BOARD_ROLES))],
              q: Annotated[str, Query(max_length=60)] = "",
              status: CaseStatus | None = None, stage: Stage | None = None,
              year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
              order: CaseOrder = CaseOrder.newest,
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Every case, found by reference, status, stage or year: closed and declined ones too."""
    found = find_cases(cases.session, search=q, status=status, stage=stage, year=year, order=order, page=page)
    filters = {"q": q.strip(), "status": status, "stage": stage, "year": year, "order": order}
    cases.audit(user, "list_cases", None, {"page": "case list", "shown": len(found.cases), "page_number": found.page,
                                           "filters": {k: v for k, v in filters.items() if v and k != "order"}})
    kept = {k: str(v) for k, v in filters.items() if v}

    def page_link(number: int) -> str:
        return "/cases?" + urlencode({**kept, "page": number})

    return render(request, "case_list.html", user, found=found, filters=filters, statuses=list(CaseStatus),
                  stages=list(Stage), orders=ORDER_WORDS, page_link=page_link,
                  filtered=any(v for k, v in filters.items() if k != "order"))
