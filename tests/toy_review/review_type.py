"""The toy review's declaration: all the service needs to know to start, show and act on its cases."""

from __future__ import annotations

from engine.review_type import ReviewType, build_start
from tests.toy_review.models import ToyInput, ToyReferral
from tests.toy_review.workflow import CLOSED, DECIDED, OPEN, ToyReviewWorkflow

TOY_REVIEW = ReviewType(
    key="toy_review", name="Toy review", workflow=ToyReviewWorkflow, stages=(OPEN, DECIDED, CLOSED),
    reference_prefix="TOY", input_model=ToyReferral, start_input=build_start(ToyInput),
    board_columns=(OPEN, DECIDED), wording={OPEN: "Open", DECIDED: "Decided"},
)
