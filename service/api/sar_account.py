"""The Safeguarding Adults Board's yearly account of its SARs (Care Act 2014 Sch. 2 para 4(1)(d)-(g)): the route over
``service/partnership/sar_account.py``, which the page calls too."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from engine.calendar import TABLE_YEARS
from records.models import User
from service.accounts.auth import require_roles
from service.accounts.roles import DASHBOARD_READERS
from service.deps import Cases
from service.partnership.sar_account import SarAccount, last_financial_year, sar_account

router = APIRouter(prefix="/api/sar-account", tags=["partnership business"])
Reader = Annotated[User, Depends(require_roles(*DASHBOARD_READERS))]


@router.get("", response_model=SarAccount)
async def account(cases: Cases, user: Reader, year: Annotated[int | None, Query(
        ge=TABLE_YEARS.start, le=TABLE_YEARS.stop - 1,
        description="The financial year, by the year it starts in (2026: April 2026 to March 2027); the last one "
                    "ended by default")] = None) -> SarAccount:
    """The SARs concluded in the year with their findings, those ongoing at its end, what the board did on the
    findings (its action plan) and the findings it decided not to implement, with its reasons."""
    return await sar_account(cases, user, last_financial_year() if year is None else year)
