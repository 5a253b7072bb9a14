"""One package per kind of statutory review, each its workflow, its models and its declaration over the engine
(engine/): the rapid review and the local CSPR it may start, and the Safeguarding Adults Review. They are
registered in review_types.py (not here: the workflow sandbox imports this package again for every run)."""
