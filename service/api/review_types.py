"""The review types the partnership runs (engine/registry.py), and a referral of any of them.

``POST /api/cases`` stays the Rapid Review's referral, as partner systems call it; a case of another type is referred
at ``/api/review-types/{key}/cases`` with that type's own referral, through the same case service (the same
reference counter, seal, idempotency and audit trail).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, status
from pydantic import BaseModel

from engine.registry import REVIEW_TYPES
from engine.review_type import ReviewType
from records.errors import NotFound
from service.api.access import CaseActor, Reader
from service.api.cases import IdempotencyKey, answer
from service.cases.case_service import validated
from service.deps import Cases

router = APIRouter(prefix="/api/review-types", tags=["review types"])


class ActionSummary(BaseModel):
    roles: list[str]
    stages: list[str]


class ReviewTypeSummary(BaseModel):
    key: str
    name: str
    reference_prefix: str | None
    parent: str | None
    stages: list[str]
    board_columns: list[str]
    actions: dict[str, ActionSummary]


def summary(review_type: ReviewType) -> ReviewTypeSummary:
    return ReviewTypeSummary(
        key=review_type.key, name=review_type.name, reference_prefix=review_type.reference_prefix,
        parent=review_type.parent, stages=[str(s) for s in review_type.stages],
        board_columns=[str(s) for s in review_type.board_columns],
        actions={name: ActionSummary(roles=sorted(spec.roles), stages=sorted(spec.stages))
                 for name, spec in review_type.actions.items()})


@router.get("", response_model=list[ReviewTypeSummary])
def list_review_types(user: Reader) -> list[ReviewTypeSummary]:
    """Every review type: its reference prefix, stages, board columns and actions (who may take each, where)."""
    return [summary(review_type) for review_type in REVIEW_TYPES]


def referred_type(key: str) -> ReviewType:
    found = REVIEW_TYPES.get(key)
    if found is None or found.reference_prefix is None:
        raise NotFound(f"No review type {key!r} that a referral starts; they are: "
                       f"{', '.join(t.key for t in REVIEW_TYPES.referred())}")
    return found


@router.post("/{key}/cases", status_code=status.HTTP_201_CREATED, responses={
    202: {"description": "The case is started but not yet readable: read it at Location shortly"},
    404: {"description": "No such review type"},
    422: {"description": "The referral is not valid for this type: the detail names each field"}})
async def refer_review(key: str, body: Annotated[dict[str, Any], Body()], request: Request, cases: Cases,
                       user: CaseActor, idempotency_key: IdempotencyKey = None):
    """A referral of a review of this type (its own referral's fields) starts a case with the type's prefix."""
    review_type = referred_type(key)
    referral = validated(review_type.input_model, body, "referral")
    return answer(await cases.refer(user, referral, idempotency_key, request.url.path, review_type))
