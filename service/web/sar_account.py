"""The page of the Safeguarding Adults Board's yearly account of its SARs, for its annual report (the work is
``service/partnership/sar_account.py``'s, which the API's route calls too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from engine.calendar import TABLE_YEARS
from records.models import User
from service.accounts.roles import DASHBOARD_READERS
from service.deps import Cases
from service.partnership.sar_account import last_financial_year, sar_account
from service.web.pages import page_roles, render

router = APIRouter(include_in_schema=False)


@router.get("/sar-account")
async def account_page(request: Request, cases: Cases, user: Annotated[User, Depends(page_roles(*DASHBOARD_READERS))],
                       year: Annotated[int | None, Query(ge=TABLE_YEARS.start, le=TABLE_YEARS.stop - 1)] = None
                       ) -> HTMLResponse:
    figures = await sar_account(cases, user, last_financial_year() if year is None else year)
    return render(request, "sar_account.html", user, account=figures,
                  years=range(TABLE_YEARS.start, TABLE_YEARS.stop))
