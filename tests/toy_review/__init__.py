"""A review type that exists only in the tests: the proof that a new kind of review needs nothing outside its own
package (docs/architecture.md, "A new review type"). Its declaration is ``TOY_REVIEW`` (``review_type.py``); a
test registers it for as long as it runs (the ``toy_review`` fixture in ``test_toy_review.py``)."""
