"""The service's review types: the first two declared here from their existing workflows (engine/review_type.py),
the Safeguarding Adults Review in its own package.

The Rapid Review is started by a referral and its cases read RR-2026-007; the local child safeguarding practice
review is started by a rapid review whose partners decided on one, as a child workflow under ``<reference>-cspr``.
Their words are still records/wording.py's ``LABELS`` (a type added later brings its own, ``ReviewType.wording``).
The worker, the case service and the pages import this module, which registers them before they read the registry
(not ``reviews/__init__.py``: the workflow sandbox imports that package again for every run).
"""

from __future__ import annotations

from engine.registry import REVIEW_TYPES
from engine.review_type import ReviewType, build_start
from engine.vocabulary import PRACTICE_REVIEW_SUFFIX, DocumentKind, ReviewStage, Stage
from reviews.practice_review.workflow import PracticeReviewWorkflow
from reviews.rapid_review.models import CaseInput, Referral
from reviews.rapid_review.workflow import RapidReviewWorkflow
from reviews.safeguarding_adults.review_type import SAFEGUARDING_ADULTS_REVIEW

RAPID_REVIEW = REVIEW_TYPES.register(ReviewType(
    key="rapid_review", name="Rapid review", workflow=RapidReviewWorkflow, stages=tuple(Stage),
    reference_prefix="RR", input_model=Referral,
    start_input=build_start(CaseInput, rules=lambda started: started.rules),
    board_columns=tuple(stage for stage in Stage if stage != Stage.closed),
    documents=tuple(kind for kind in DocumentKind if kind not in (
        DocumentKind.terms_of_reference, DocumentKind.publication_notice, DocumentKind.cspr_delay_notice,
        DocumentKind.seven_minute_briefing, DocumentKind.themes_sheet)),
))

PRACTICE_REVIEW = REVIEW_TYPES.register(ReviewType(
    key="practice_review", name="Local child safeguarding practice review", workflow=PracticeReviewWorkflow,
    stages=tuple(ReviewStage), parent=RAPID_REVIEW.key, workflow_id_suffix=PRACTICE_REVIEW_SUFFIX,
    documents=(DocumentKind.terms_of_reference, DocumentKind.publication_notice, DocumentKind.cspr_delay_notice,
               DocumentKind.seven_minute_briefing),
))

# The Safeguarding Adults Review (Care Act 2014 s44), declared in its own package.
REVIEW_TYPES.register(SAFEGUARDING_ADULTS_REVIEW)
