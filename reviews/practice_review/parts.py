"""What every part of the local CSPR's process holds (the helpers ``PracticeReviewWorkflow`` builds in its
``@workflow.init``: the report, publication, the link to its case): engine/parts.py's ``ProcessPart``, typed for
the review, with the review's input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.parts import ProcessPart

if TYPE_CHECKING:
    from reviews.practice_review.models import ReviewInput
    from reviews.practice_review.workflow import PracticeReviewWorkflow


class ReviewPart(ProcessPart):
    process: PracticeReviewWorkflow

    @property
    def review(self) -> ReviewInput:
        return self.process.review
