"""The case list page: every case, open, closed or declined, for the roles who read every case (the board's): search
by reference or pseudonym, filter by status, stage and year, sort, and page through (``service/cases/case_list.py``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from engine.vocabulary import Stage
from records.errors import InvalidInput
from records.models import User
from service.accounts.roles import BOARD_ROLES
from service.cases.case_list import CaseOrder, CaseStatus, find_cases
from service.deps import Cases
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)
ORDER_WORDS = {CaseOrder.newest: "Opened, newest first", CaseOrder.oldest: "Opened, oldest first",
               CaseOrder.reference: "Reference"}


def chosen(kind: type[StrEnum], value: str, what: str):
    """A filter's value from the form: none chosen (empty) is no filter; anything but one of its options is refused."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"There is no {what} '{value}' to filter by") from None


@router.get("/cases")
def case_list(request: Request, cases: Cases, user: Annotated[User, Depends(page_roles(*BOARD_ROLES))],
              q: Annotated[str, Query(max_length=60)] = "",
              status: Annotated[str, Query(max_length=20)] = "", stage: Annotated[str, Query(max_length=40)] = "",
              year: Annotated[str, Query(max_length=4, pattern=r"^(\d{4})?$")] = "",
              order: Annotated[str, Query(max_length=20)] = "",
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Every case, found by reference, status, stage or year: closed and declined ones too."""
    status, stage = chosen(CaseStatus, status, "status"), chosen(Stage, stage, "stage")
    order = chosen(CaseOrder, order, "order") or CaseOrder.newest
    year = int(year) if year else None
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
