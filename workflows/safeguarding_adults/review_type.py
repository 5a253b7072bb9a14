"""The SAR's declaration (engine/review_type.py): its reference prefix, stages, referral and actions, and the words
an adults' board uses for them."""

from __future__ import annotations

from engine.review_type import ReviewType, build_start
from workflows.safeguarding_adults.models import SarInput, SarReferral
from workflows.safeguarding_adults.workflow import (
    COMMISSIONING,
    CRITERIA,
    PUBLICATION,
    REVIEW,
    SIGN_OFF,
    STAGES,
    SafeguardingAdultsReviewWorkflow,
)

SAFEGUARDING_ADULTS_REVIEW = ReviewType(
    key="safeguarding_adults_review", name="Safeguarding Adults Review", workflow=SafeguardingAdultsReviewWorkflow,
    stages=STAGES, reference_prefix="SAR", input_model=SarReferral, start_input=build_start(SarInput),
    board_columns=(CRITERIA, COMMISSIONING, REVIEW, SIGN_OFF, PUBLICATION),
    wording={CRITERIA: "SAR criteria decision", COMMISSIONING: "SAR commissioning", REVIEW: "SAR under way",
             SIGN_OFF: "SAR report sign-off", PUBLICATION: "SAR publication",
             "give_sar_criteria_view": "Give your view on the SAR criteria", "commission_sar": "Commission the SAR",
             "submit_sar_report": "Submit the SAR report", "sign_off_sar_report": "Sign off the SAR report",
             "publish_sar": "Record the publication",
             "request_sar_information": "Ask agencies for their information",
             "submit_sar_information_return": "Send your agency's information return",
             "use_shared_return": "Count an agency's return shared from a linked case"},
)
