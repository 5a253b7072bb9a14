"""The referral page of any registered review type (engine/registry.py): its questions are its referral model's
fields, sent to the same case service as ``POST /api/review-types/{key}/cases``. The rapid review keeps its own
page (``/cases/new`` in ``service/web/referrals.py``), with its agency list and help texts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.calendar import london_date
from engine.review_type import ReviewType
from records.errors import NotFound
from records.models import User
from reviews.review_types import REVIEW_TYPES
from service.accounts.roles import CASE_ACTORS
from service.cases.case_service import future_dates
from service.deps import Cases
from service.web.forms import error_list, form_body, form_fields, invalid_fields, typed_values
from service.web.pages import page_roles, render
from service.web.referrals import after_referral

router = APIRouter(include_in_schema=False)
Referrer = Annotated[User, Depends(page_roles(*CASE_ACTORS))]


def referred_type(key: str) -> ReviewType:
    found = REVIEW_TYPES.get(key)
    if found is None or found.reference_prefix is None:
        raise NotFound(f"No review type {key!r} that a referral starts")
    return found


def referral_form(request: Request, user: User, review_type: ReviewType, status_code: int = 200,
                  errors: dict | None = None, typed: dict | None = None) -> HTMLResponse:
    fields, errors = form_fields(review_type.input_model), errors or {}
    return render(request, "review_referral.html", user, status_code=status_code, review_type=review_type,
                  fields=fields, errors=errors, typed=typed or {}, error_summary=error_list("referral", fields, errors))


@router.get("/review-types/{key}/new")
def review_referral_page(key: str, request: Request, user: Referrer) -> HTMLResponse:
    """A new referral of this review type (its own questions)."""
    return referral_form(request, user, referred_type(key))


@router.post("/review-types/{key}/new")
async def new_review_referral(key: str, request: Request, cases: Cases, user: Referrer) -> Response:
    """A referral from the form; refused, the form again with what was typed and each field's error."""
    review_type = referred_type(key)
    form = await request.form()
    fields = form_fields(review_type.input_model)
    body, errors = form_body(fields, form)
    errors = errors or invalid_fields(review_type.input_model, body, fields)
    if not errors:
        future = future_dates(review_type.input_model.model_validate(body), london_date(datetime.now(UTC)))
        errors = {name: "The date must be today or in the past" for name in future}
    if errors:
        return referral_form(request, user, review_type, 422, errors, typed_values(form))
    started = await cases.start(user, review_type.input_model.model_validate(body), review_type=review_type)
    return RedirectResponse(after_referral(cases, user, started), status_code=303)
