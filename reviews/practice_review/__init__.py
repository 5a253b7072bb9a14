"""The local child safeguarding practice review a rapid review's partners may decide on, run as its case's child
workflow (``PracticeReviewWorkflow``, workflow.py)."""
