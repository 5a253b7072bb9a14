"""The registry of review types (engine/registry.py): what it refuses, so two types can never share a name that the
API, the pages, the references or the engine route by."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.registry import ReviewTypes
from engine.review_type import ReviewType
from reviews.rapid_review.workflow import RapidReviewWorkflow
from reviews.review_types import PRACTICE_REVIEW, RAPID_REVIEW, REVIEW_TYPES, SAFEGUARDING_ADULTS_REVIEW
from service.cases.case_service import ACTIONS
from tests.toy_review.review_type import TOY_REVIEW


def test_the_services_own_types_are_registered_with_every_action_of_their_workflows():
    assert [t.key for t in REVIEW_TYPES][:3] == ["rapid_review", "practice_review", "safeguarding_adults_review"]
    assert set(ACTIONS) == set(RapidReviewWorkflow.RULES) | set(PRACTICE_REVIEW.workflow.RULES) | set(
        SAFEGUARDING_ADULTS_REVIEW.workflow.RULES)
    assert ACTIONS["sign_off_report"].suffix == "-cspr" and ACTIONS["sign_off"].suffix == ""
    assert REVIEW_TYPES.of_reference("RR-2026-007") is RAPID_REVIEW
    assert REVIEW_TYPES.family(RAPID_REVIEW) == [RAPID_REVIEW, PRACTICE_REVIEW]
    assert RAPID_REVIEW.workflow_name == "RapidReviewWorkflow", "the name stored histories carry"


def registry_with_the_toy() -> ReviewTypes:
    types = ReviewTypes()
    types.register(TOY_REVIEW)
    return types


@pytest.mark.parametrize(("change", "clash"), [
    ({"key": "other", "reference_prefix": "OTH"}, "workflow, action 'toy_close', action 'toy_decide'"),
    ({"key": "other", "workflow": RapidReviewWorkflow}, "reference prefix"),
    ({"reference_prefix": "OTH", "workflow": RapidReviewWorkflow}, "key"),
])
def test_a_type_sharing_a_key_prefix_workflow_or_action_name_is_refused(change, clash):
    types = registry_with_the_toy()
    with pytest.raises(ValueError, match=f"the same {clash} as 'toy_review'"):
        types.register(replace(TOY_REVIEW, **change))
    assert [t.key for t in types] == ["toy_review"], "nothing was registered"
    assert types.register(TOY_REVIEW) is TOY_REVIEW, "the same declaration again is no clash"


def test_a_child_type_needs_its_parent_and_a_type_is_started_one_way():
    with pytest.raises(ValueError, match="its parent 'rapid_review' is not registered"):
        ReviewTypes().register(PRACTICE_REVIEW)
    with pytest.raises(ValueError, match="not both"):
        replace(TOY_REVIEW, parent="rapid_review")
    with pytest.raises(ValueError, match="2 to 6 capital letters"):
        replace(TOY_REVIEW, reference_prefix="toy-1")
    with pytest.raises(ValueError, match="needs start_input"):
        ReviewType(key="x", name="X", workflow=RapidReviewWorkflow, stages=(), reference_prefix="XX")
